"""The `ssm-cache` package (a Parameter Store caching client) against the durable Coffer.

ssm-cache builds its own client with `boto3.client("ssm")`. It is pointed at Coffer the way a
user would: AWS_ENDPOINT_URL plus credentials and region in the environment, nothing else (no
client object handed to it, no config file)."""

from __future__ import annotations

import secrets

import boto3
import pytest
from ssm_cache import InvalidParameterError, SSMParameter, SSMParameterGroup
from ssm_cache.refreshable import Refreshable

from helpers import REGION

SECRET = "/cache/secret"
GROUP = "/cache/group"


@pytest.fixture(scope="module")
def env(durable):
    """Only AWS_ENDPOINT_URL, the admin's credentials and the region; ssm-cache's client and
    boto3's default session are made afresh from them."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ENDPOINT_URL", durable.endpoint)
    mp.setenv("AWS_ACCESS_KEY_ID", durable.access_key)
    mp.setenv("AWS_SECRET_ACCESS_KEY", durable.secret_key)
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    mp.setattr(boto3, "DEFAULT_SESSION", None)
    mp.setattr(Refreshable, "_ssm_client", None)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def ssm(durable):
    """The suite's own client (to write parameters)."""
    return durable.client(service="ssm")


@pytest.fixture(scope="module")
def values(ssm) -> dict:
    v1, v2 = f"cache-v1-{secrets.token_hex(8)}", f"cache-v2-{secrets.token_hex(8)}"
    ssm.put_parameter(Name=SECRET, Value=v1, Type="SecureString")
    group = {f"{GROUP}/p{i:02d}": f"group-{i}-{secrets.token_hex(4)}" for i in range(12)}
    for i, (name, value) in enumerate(group.items()):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString" if i % 2 else "String")
    return {"v1": v1, "v2": v2, "group": group}


def test_client_is_made_from_the_environment(env, durable):
    client = Refreshable._get_ssm_client()
    assert client.meta.endpoint_url == durable.endpoint
    assert client.meta.region_name == REGION


def test_secure_string_is_decrypted(env, values):
    p = SSMParameter(SECRET)
    assert p.value == values["v1"]
    assert p.version == 1
    raw = SSMParameter(SECRET, with_decryption=False)
    assert raw.value != values["v1"] and values["v1"] not in raw.value


def test_group_by_path_pages(env, values):
    client = Refreshable._get_ssm_client()
    calls = []
    handler = lambda **kw: calls.append(kw["model"].name)  # noqa: E731
    client.meta.events.register("after-call.ssm.GetParametersByPath", handler)
    try:
        group = SSMParameterGroup()
        params = group.parameters(GROUP)
    finally:
        client.meta.events.unregister("after-call.ssm.GetParametersByPath", handler)
    assert len(calls) >= 2, "12 parameters come in more than one page"
    assert {p.name: p.value for p in params} == values["group"]
    assert len(group) == 12
    # A parameter of the group refreshes through the group (GetParameters, batches of 10).
    group.refresh()
    assert group.parameter(f"{GROUP}/p03", add_prefix=False).value == values["group"][f"{GROUP}/p03"]


def test_pinned_version_and_refresh_after_overwrite(env, values, ssm):
    latest = SSMParameter(SECRET)
    assert latest.value == values["v1"]
    ssm.put_parameter(Name=SECRET, Value=values["v2"], Type="SecureString", Overwrite=True)
    assert latest.value == values["v1"], "cached until refreshed"
    latest.refresh()
    assert latest.value == values["v2"] and latest.version == 2

    pinned = SSMParameter(f"{SECRET}:1")
    assert pinned.value == values["v1"] and pinned.version == 1
    assert SSMParameter(f"{SECRET}:2").value == values["v2"]
    with pytest.raises(InvalidParameterError):
        SSMParameter(f"{SECRET}:9").value  # noqa: B018
    with pytest.raises(InvalidParameterError):
        SSMParameter("/cache/missing").value  # noqa: B018
