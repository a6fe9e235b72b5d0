"""boto3 against Coffer's Parameter Store (SSM): paginators, labels and version selectors,
StringList, tiers, and AWS's error codes. Runs on the --dev server in a fresh account; the quota
test starts its own --dev server with `--ssm-max-standard 2`."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import Coffer, random_account, raises, unique


@pytest.fixture(scope="module")
def account() -> str:
    return random_account()


@pytest.fixture(scope="module")
def ssm(dev, account):
    return dev.client(access_key=account, secret_key="anything", service="ssm")


@pytest.fixture(scope="module")
def dev_kms_same_account(dev, account):
    return dev.client(access_key=account, secret_key="anything")


def names_of(pages, key="Parameters") -> list[str]:
    return [p["Name"] for page in pages for p in page[key]]


# ---- paginators -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(ssm) -> dict:
    """25 parameters directly under one path, 5 more below it, of all three types."""
    root = f"/compat/{unique()}"
    direct = [f"{root}/p{i:02d}" for i in range(25)]
    deep = [f"{root}/deep/er/q{i}" for i in range(5)]
    types = ["String", "StringList", "SecureString"]
    for i, name in enumerate(direct):
        ssm.put_parameter(Name=name, Value=f"value-{i}" if i % 3 != 1 else f"a{i},b{i}", Type=types[i % 3],
                          Tags=[{"Key": "team", "Value": "red" if i % 2 else "blue"}])
    for name in deep:
        ssm.put_parameter(Name=name, Value="deep", Type="String")
    return {"root": root, "direct": direct, "deep": deep}


def test_get_parameters_by_path_paginator(ssm, tree):
    paginator = ssm.get_paginator("get_parameters_by_path")
    pages = list(paginator.paginate(Path=tree["root"], Recursive=False, PaginationConfig={"PageSize": 10}))
    assert len(pages) >= 3 and all(len(p["Parameters"]) <= 10 for p in pages)
    got = names_of(pages)
    assert sorted(got) == sorted(tree["direct"]), "every direct child exactly once"

    pages = list(paginator.paginate(Path=tree["root"], Recursive=True, PaginationConfig={"PageSize": 10}))
    got = names_of(pages)
    assert len(got) == len(set(got)) == 30
    assert set(got) == set(tree["direct"]) | set(tree["deep"])

    # The path may end with a slash; a deeper path sees only its own subtree.
    assert sorted(names_of(paginator.paginate(Path=tree["root"] + "/deep/", Recursive=True))) == sorted(tree["deep"])
    assert names_of(paginator.paginate(Path=tree["root"] + "/deep", Recursive=False)) == []

    # Values: SecureStrings come back encrypted unless WithDecryption.
    plain = {p["Name"]: p for page in paginator.paginate(Path=tree["root"]) for p in page["Parameters"]}
    dec = {p["Name"]: p for page in paginator.paginate(Path=tree["root"], WithDecryption=True) for p in page["Parameters"]}
    secure = tree["direct"][2]
    assert plain[secure]["Type"] == "SecureString" and plain[secure]["Value"] != "value-2"
    assert dec[secure]["Value"] == "value-2"
    assert dec[tree["direct"][1]]["Value"] == "a1,b1"
    assert dec[tree["direct"][1]]["Type"] == "StringList"

    # Filters by type, here SecureString only.
    only = names_of(paginator.paginate(Path=tree["root"], ParameterFilters=[
        {"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}]))
    assert sorted(only) == sorted(tree["direct"][2::3])


def test_describe_parameters_paginator_with_filters(ssm, tree):
    paginator = ssm.get_paginator("describe_parameters")
    root = tree["root"]

    def describe(*filters, page_size=7):
        pages = list(paginator.paginate(ParameterFilters=list(filters), PaginationConfig={"PageSize": page_size}))
        assert all(len(p["Parameters"]) <= page_size for p in pages)
        got = names_of(pages)
        assert len(got) == len(set(got)), "no parameter twice"
        return got, pages

    got, pages = describe({"Key": "Path", "Option": "OneLevel", "Values": [root]})
    assert sorted(got) == sorted(tree["direct"]) and len(pages) >= 4
    got, _ = describe({"Key": "Path", "Option": "Recursive", "Values": [root]})
    assert sorted(got) == sorted(tree["direct"] + tree["deep"])
    got, _ = describe({"Key": "Name", "Option": "BeginsWith", "Values": [f"{root}/p1"]})
    assert sorted(got) == sorted(n for n in tree["direct"] if n.startswith(f"{root}/p1"))
    got, _ = describe({"Key": "Path", "Option": "Recursive", "Values": [root]},
                      {"Key": "Type", "Option": "Equals", "Values": ["StringList"]})
    assert sorted(got) == sorted(tree["direct"][1::3])
    got, _ = describe({"Key": "Path", "Option": "OneLevel", "Values": [root]},
                      {"Key": "tag:team", "Values": ["red"]}, page_size=5)
    assert sorted(got) == sorted(tree["direct"][1::2])

    md = {p["Name"]: p for page in paginator.paginate(ParameterFilters=[
        {"Key": "Path", "Option": "Recursive", "Values": [root]}]) for p in page["Parameters"]}
    sec = md[tree["direct"][2]]
    assert sec["Type"] == "SecureString" and sec["KeyId"] == "alias/aws/ssm"
    assert sec["Version"] == 1 and sec["Tier"] == "Standard" and sec["DataType"] == "text"
    assert "Value" not in sec and isinstance(sec["LastModifiedDate"], dt.datetime)
    assert sec["ARN"].endswith(f":parameter{tree['direct'][2]}")


def test_get_parameter_history_paginator(ssm):
    name = f"/compat/{unique()}/history"
    for i in range(1, 13):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=i > 1, Description=f"d{i}")
    pages = list(ssm.get_paginator("get_parameter_history").paginate(Name=name, PaginationConfig={"PageSize": 5}))
    assert len(pages) == 3 and [len(p["Parameters"]) for p in pages] == [5, 5, 2]
    history = [p for page in pages for p in page["Parameters"]]
    assert [h["Version"] for h in history] == list(range(1, 13))
    assert [h["Value"] for h in history] == [f"v{i}" for i in range(1, 13)]
    assert history[3]["Description"] == "d4" and history[0]["Type"] == "String"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 12


# ---- labels, selectors, StringList ------------------------------------------------------------


def test_labels_and_selectors(ssm):
    name = f"/compat/{unique()}/labelled"
    for i in (1, 2, 3):
        assert ssm.put_parameter(Name=name, Value=f"v{i}", Type="SecureString", Overwrite=True)["Version"] == i

    r = ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["prod", "stable"])
    assert r["InvalidLabels"] == [] and r["ParameterVersion"] == 2
    p = ssm.get_parameter(Name=f"{name}:prod", WithDecryption=True)["Parameter"]
    assert (p["Name"], p["Value"], p["Version"], p["Selector"]) == (name, "v2", 2, ":prod")
    p = ssm.get_parameter(Name=f"{name}:1", WithDecryption=True)["Parameter"]
    assert (p["Name"], p["Value"], p["Version"], p["Selector"]) == (name, "v1", 1, ":1")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "v3"

    got = ssm.get_parameters(Names=[f"{name}:stable", f"{name}:3", f"{name}:9", f"{name}:nolabel"], WithDecryption=True)
    assert sorted((p["Selector"], p["Value"]) for p in got["Parameters"]) == [(":3", "v3"), (":stable", "v2")]
    assert sorted(got["InvalidParameters"]) == sorted([f"{name}:9", f"{name}:nolabel"])

    # A label moves to the version it is attached to last; history shows where labels are.
    ssm.label_parameter_version(Name=name, ParameterVersion=3, Labels=["prod"])
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Version"] == 3
    labels = {h["Version"]: sorted(h["Labels"]) for h in ssm.get_parameter_history(Name=name)["Parameters"]}
    assert labels == {1: [], 2: ["stable"], 3: ["prod"]}

    # Labels that may not be used: a number first, aws/ssm prefixes, a slash.
    bad = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["1abc", "aws-x", "ssm-y", "a/b", "ok_1"])
    assert sorted(bad["InvalidLabels"]) == sorted(["1abc", "aws-x", "ssm-y", "a/b"])

    r = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["prod", "never"])
    assert r["RemovedLabels"] == ["prod"] and r["InvalidLabels"] == ["never"]
    got = ssm.get_parameters(Names=[f"{name}:prod"])
    assert got["Parameters"] == [] and got["InvalidParameters"] == [f"{name}:prod"]

    raises("ParameterVersionNotFound", ssm.get_parameter, Name=f"{name}:9")
    raises("ParameterVersionNotFound", ssm.label_parameter_version, Name=name, ParameterVersion=99, Labels=["x"])


def test_string_list(ssm):
    name = f"/compat/{unique()}/list"
    ssm.put_parameter(Name=name, Value="alpha,beta,gamma", Type="StringList")
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Type"] == "StringList" and p["Value"] == "alpha,beta,gamma"
    assert ssm.get_parameters(Names=[name])["Parameters"][0]["Value"] == "alpha,beta,gamma"
    # The type of an existing parameter can change on overwrite (as in AWS).
    ssm.put_parameter(Name=name, Value="one", Type="String", Overwrite=True)
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert (p["Type"], p["Value"], p["Version"]) == ("String", "one", 2)


# ---- tiers and tags -------------------------------------------------------------------------


def test_value_size_and_tiers(ssm):
    name = f"/compat/{unique()}/big"
    e = raises("ValidationException", ssm.put_parameter, Name=name, Value="x" * 4097, Type="String")
    assert "4096" in e.response["Error"]["Message"] or "Advanced" in e.response["Error"]["Message"]
    raises("ParameterNotFound", ssm.get_parameter, Name=name)
    assert ssm.put_parameter(Name=name, Value="x" * 4096, Type="String")["Tier"] == "Standard"
    big = "y" * 8192
    r = ssm.put_parameter(Name=name, Value=big, Type="SecureString", Tier="Advanced", Overwrite=True)
    assert r == {"Version": 2, "Tier": "Advanced", "ResponseMetadata": r["ResponseMetadata"]}
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == big
    raises("ValidationException", ssm.put_parameter, Name=name, Value="z" * 8193, Type="String", Tier="Advanced",
           Overwrite=True)


def test_tags(ssm):
    name = f"/compat/{unique()}/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "3"), ("b", "2")]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["a"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == [{"Key": "b", "Value": "2"}]

    # At most 50 tags per resource.
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    raises("TooManyTagsError", ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=name, Tags=too_many)
    assert len(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]) == 1
    raises("InvalidResourceId", ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId=f"{name}-missing")


# ---- errors ---------------------------------------------------------------------------------


def test_not_found_and_already_exists(ssm):
    name = f"/compat/{unique()}/errors"
    raises("ParameterNotFound", ssm.get_parameter, Name=name)
    raises("ParameterNotFound", ssm.delete_parameter, Name=name)
    raises("ParameterNotFound", ssm.get_parameter_history, Name=name)
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    e = raises("ParameterAlreadyExists", ssm.put_parameter, Name=name, Value="v2", Type="String")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v1", e
    r = ssm.delete_parameters(Names=[name, f"{name}-missing"])
    assert r["DeletedParameters"] == [name] and r["InvalidParameters"] == [f"{name}-missing"]
    raises("ParameterNotFound", ssm.get_parameter, Name=name)


def test_hierarchy_depth(ssm):
    base = f"/compat{unique()}"
    fifteen = base + "".join(f"/l{i}" for i in range(14))  # 15 levels
    assert fifteen.count("/") == 15
    ssm.put_parameter(Name=fifteen, Value="deep", Type="String")
    raises("HierarchyLevelLimitExceededException", ssm.put_parameter, Name=fifteen + "/l15", Value="x", Type="String")


def test_reserved_names(ssm):
    e = raises("AccessDeniedException", ssm.put_parameter, Name="/aws/x", Value="x", Type="String")
    assert "reserved parameter name" in e.response["Error"]["Message"]
    # Names prefixed with aws or ssm (any case) outside a path are invalid.
    for name in ("aws-thing", "AWSthing", "ssm-y"):
        raises("ValidationException", ssm.put_parameter, Name=name, Value="x", Type="String")


def test_disabled_key(ssm, dev_kms_same_account):
    kms = dev_kms_same_account
    key = kms.create_key(Description="ssm, then disabled")["KeyMetadata"]
    name = f"/compat/{unique()}/keyed"
    ssm.put_parameter(Name=name, Value="before", Type="SecureString", KeyId=key["Arn"])
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "before"
    kms.disable_key(KeyId=key["KeyId"])
    raises("InvalidKeyId", ssm.put_parameter, Name=name, Value="after", Type="SecureString", KeyId=key["KeyId"],
           Overwrite=True)
    raises("InvalidKeyId", ssm.put_parameter, Name=f"{name}2", Value="x", Type="SecureString", KeyId=key["Arn"])
    raises("InvalidKeyId", ssm.put_parameter, Name=f"{name}3", Value="x", Type="SecureString",
           KeyId="alias/compat-no-such-alias")
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1
    # A KeyId for a String parameter is refused.
    raises("ValidationException", ssm.put_parameter, Name=f"{name}4", Value="x", Type="String", KeyId=key["Arn"])
    kms.enable_key(KeyId=key["KeyId"])


def test_invalid_filter_key(ssm):
    # GetParametersByPath filters by Type, KeyId, Label and tags only; Path or Name is no filter there.
    raises("InvalidFilterKey", ssm.get_parameters_by_path, Path="/compat",
           ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": ["x"]}])
    raises("InvalidFilterKey", ssm.get_parameters_by_path, Path="/compat",
           ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/compat"]}])
    # Options and values each filter key allows.
    raises("InvalidFilterOption", ssm.get_parameters_by_path, Path="/compat",
           ParameterFilters=[{"Key": "Label", "Option": "BeginsWith", "Values": ["x"]}])
    raises("InvalidFilterOption", ssm.describe_parameters,
           ParameterFilters=[{"Key": "Path", "Option": "Equals", "Values": ["/compat"]}])
    raises("InvalidFilterValue", ssm.describe_parameters, ParameterFilters=[{"Key": "Type", "Values": ["Text"]}])


@pytest.fixture(scope="module")
def small_quota(tmp_path_factory, _clean_aws_environment):
    """A --dev server allowing 2 standard-tier parameters per account."""
    work = tmp_path_factory.mktemp("coffer-quota")
    server = Coffer(name="quota", args=["--dev", "--ssm-max-standard", "2"], workdir=work, dev=True)
    server.access_key, server.secret_key = random_account(), "anything"
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
    assert code == 0, f"quota coffer exited with status {code}\n{server.log_text()[-4000:]}"


def test_parameter_limit_exceeded(small_quota):
    ssm = small_quota.client(service="ssm")
    ssm.put_parameter(Name="/q/one", Value="1", Type="String")
    ssm.put_parameter(Name="/q/two", Value="2", Type="String")
    raises("ParameterLimitExceeded", ssm.put_parameter, Name="/q/three", Value="3", Type="String")
    # Overwriting an existing parameter is not a new one; deleting one makes room.
    assert ssm.put_parameter(Name="/q/two", Value="2b", Type="String", Overwrite=True)["Version"] == 2
    ssm.delete_parameter(Name="/q/one")
    ssm.put_parameter(Name="/q/three", Value="3", Type="String")
    # The quota is per account: another account still has room.
    other = small_quota.client(access_key=random_account(), secret_key="x", service="ssm")
    other.put_parameter(Name="/q/one", Value="1", Type="String")
