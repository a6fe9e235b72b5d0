"""Which operations of botocore's KMS, Systems Manager (Parameter Store), IAM, STS and S3 models
Coffer serves.

Every operation of each model is sent to the --dev Coffer as a raw SigV4-signed request (raw, so
that boto3's client-side validation cannot stop a request):

- KMS and SSM (awsJson 1.1): `X-Amz-Target: <targetPrefix>.<Op>` with body `{}`. Not implemented =
  UnsupportedOperationException "... not implemented by this Coffer release", or
  UnknownOperationException.
- IAM and STS (awsQuery): a form POST of `Action=<Op>&Version=<apiVersion>`, signed for service
  iam / sts. Not implemented = InvalidAction "Could not find operation <Op> ...".
- S3 (rest-xml): the operation's HTTP method and request URI (its subresource query, e.g.
  `?uploads`), a probe bucket for `{Bucket}` and key for `{Key+}` (in a fresh dev account), and its
  required header and query members (e.g. `x-amz-copy-source`, `uploadId`) with placeholder values,
  an empty body. S3 names no operation in a request: which one Coffer ran is read from its request
  log (`op="..."`, by the x-amz-request-id it answered). Implemented = Coffer ran that operation;
  not implemented = it answered 501 NotImplemented, or ran another operation (the request is, for
  Coffer, that other operation: e.g. `GET /{Bucket}?session`, CreateSession, is a ListObjects).

KMS runs as the root of the dev account; SSM, IAM, STS and S3 as the root of a fresh dev account (the
empty requests of served operations such as CreateAccessKey take effect there). The result is
written to docs/coverage.md and printed.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import botocore
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from helpers import REGION, REPO, random_account, raw_json, raw_query, wire_error

COVERAGE_MD = REPO / "docs" / "coverage.md"
NOT_IMPLEMENTED_TEXT = "not implemented by this Coffer release"
QUERY_NOT_FOUND_TEXT = "Could not find operation"

# What this Coffer release serves, per service.
KMS_IMPLEMENTED = {
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
    "ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias", "UpdateAlias", "DeleteAlias",
    "ListAliases", "TagResource", "UntagResource", "ListResourceTags", "EnableKeyRotation",
    "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
    "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
}
SSM_IMPLEMENTED = {
    "PutParameter", "GetParameter", "GetParameters", "GetParametersByPath", "DescribeParameters",
    "GetParameterHistory", "DeleteParameter", "DeleteParameters", "LabelParameterVersion",
    "UnlabelParameterVersion", "AddTagsToResource", "ListTagsForResource", "RemoveTagsFromResource",
}
IAM_IMPLEMENTED = {
    "CreateUser", "GetUser", "ListUsers", "DeleteUser", "TagUser", "UntagUser",
    "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
    "CreateRole", "GetRole", "ListRoles", "DeleteRole", "UpdateAssumeRolePolicy",
    "PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy",
    "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy",
    "CreatePolicy", "GetPolicy", "GetPolicyVersion", "DeletePolicy", "ListPolicies",
    "AttachUserPolicy", "DetachUserPolicy", "AttachRolePolicy", "DetachRolePolicy",
    "ListAttachedUserPolicies", "ListAttachedRolePolicies",
}
STS_IMPLEMENTED = {"GetCallerIdentity", "AssumeRole"}
S3_IMPLEMENTED = {
    "CreateBucket", "HeadBucket", "ListBuckets", "DeleteBucket", "GetBucketLocation",
    "PutObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject",
    "ListObjectsV2", "ListObjects", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", "ListMultipartUploads",
    "PutBucketEncryption", "GetBucketEncryption", "DeleteBucketEncryption",
    "PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy", "GetBucketVersioning",
}
# The bucket and key of the S3 probes (CreateBucket and PutObject create them in the fresh account).
S3_PROBE_BUCKET = "coffer-coverage-probe"
S3_PROBE_KEY = "probe/key"


def is_parameter_store_op(op: str) -> bool:
    """Parameter Store's operations in the Systems Manager model: those on parameters, and the
    tag operations (which Parameter Store shares with other SSM resources)."""
    return "Parameter" in op or op in {"AddTagsToResource", "ListTagsForResource", "RemoveTagsFromResource"}


@dataclass
class Outcome:
    op: str
    status: int
    code: str  # "" on success
    message: str
    protocol: str  # "json", "query" or "rest-xml"
    request_id: str = ""  # rest-xml: the x-amz-request-id Coffer answered
    routed: str = ""  # rest-xml: the operation Coffer ran (its log's op="...")

    @property
    def implemented(self) -> bool:
        if self.protocol == "rest-xml":
            return self.routed == self.op and self.code != "NotImplemented"
        if self.protocol == "query":
            return not (self.code == "InvalidAction" and QUERY_NOT_FOUND_TEXT in self.message)
        if self.code == "UnknownOperationException":
            return False
        return not (self.code == "UnsupportedOperationException" and NOT_IMPLEMENTED_TEXT in self.message)

    @property
    def label(self) -> str:
        if self.implemented:
            return "implemented"
        if self.protocol == "rest-xml" and self.code != "NotImplemented":
            return f"not implemented (answered as {self.routed or 'no operation'})"
        if self.code == "UnknownOperationException":
            return "not implemented (unknown operation)"
        return "not implemented"


@dataclass
class Service:
    key: str  # botocore's service name
    title: str
    implemented: set[str]
    credentials: tuple[str, str]
    model: dict = field(default_factory=dict)
    model_path: Path | None = None

    @property
    def protocol(self) -> str:
        return self.model["metadata"]["protocol"]

    @property
    def api_version(self) -> str:
        return self.model["metadata"]["apiVersion"]

    @property
    def validation_code(self) -> str:
        """AWS's error code for a missing required member."""
        return "ValidationError" if self.protocol == "query" else "ValidationException"

    def send(self, endpoint: str, op: str) -> Outcome:
        if self.protocol == "rest-xml":
            return s3_probe(endpoint, self.model, op, self.credentials)
        if self.protocol == "query":
            status, xml = raw_query(endpoint, self.key, {"Action": op, "Version": self.api_version}, self.credentials)
            if status == 200:
                return Outcome(op, status, "", "", "query")
            return Outcome(op, status, *query_error(xml), "query")
        target = f"{self.model['metadata']['targetPrefix']}.{op}"
        status, body = raw_json(endpoint, target, b"{}", self.credentials, service=self.key)
        if status == 200:
            return Outcome(op, status, "", "", "json")
        return Outcome(op, status, *wire_error(body), "json")


def query_error(xml: str) -> tuple[str, str]:
    """(code, message) of an awsQuery ErrorResponse."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return "NotXml", xml[:200]
    found = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    return found.get("Code", ""), found.get("Message", "")


def s3_probe(endpoint: str, model: dict, op: str, credentials: tuple[str, str]) -> Outcome:
    """One S3 request for `op` as its model describes it (see the module docstring)."""
    http = model["operations"][op]["http"]
    path, _, query = http["requestUri"].partition("?")
    path = path.replace("{Bucket}", S3_PROBE_BUCKET).replace("{Key+}", S3_PROBE_KEY)
    params = [tuple(q.split("=", 1)) if "=" in q else (q, "") for q in query.split("&") if q]
    headers = {}
    shape = model["operations"][op].get("input", {}).get("shape")
    if shape:
        members = model["shapes"][shape]["members"]
        for name in model["shapes"][shape].get("required", []):
            m = members[name]
            kind = model["shapes"][m["shape"]]["type"]
            value = "1" if kind in ("integer", "long") else f"{S3_PROBE_BUCKET}/source" if name in ("CopySource", "RenameSource") else "probe"
            if m.get("location") == "querystring":
                params.append((m["locationName"], value))
            elif m.get("location") == "header":
                headers[m["locationName"]] = value
    url = f"{endpoint}{path}"
    if params:
        url += "?" + "&".join(f"{urllib.parse.quote(k)}={urllib.parse.quote(v)}" if v else urllib.parse.quote(k)
                              for k, v in params)
    method = http["method"]
    body = b"" if method in ("PUT", "POST") else None
    req = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    S3SigV4Auth(Credentials(*credentials), "s3", REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, raw, rid = resp.status, resp.read(), resp.headers.get("x-amz-request-id", "")
    except urllib.error.HTTPError as e:
        status, raw, rid = e.code, e.read(), e.headers.get("x-amz-request-id", "")
    if status < 300:
        return Outcome(op, status, "", "", "rest-xml", rid)
    code, message = query_error(raw.decode(errors="replace")) if raw else (str(status), "")
    return Outcome(op, status, code, message, "rest-xml", rid)


def s3_routed(log: str) -> dict[str, str]:
    """request id -> the operation Coffer's request log names, for its S3 requests."""
    out = {}
    for line in log.splitlines():
        if 'service="s3"' in line:
            op, rid = re.search(r'\bop="([^"]*)"', line), re.search(r'\brequest_id="([^"]*)"', line)
            if op and rid:
                out[rid.group(1)] = op.group(1)
    return out


def load_model(name: str) -> tuple[dict, Path]:
    data = Path(os.path.dirname(botocore.__file__)) / "data" / name
    base = max(p for p in data.iterdir() if p.is_dir())  # the newest API version
    plain, gz = base / "service-2.json", base / "service-2.json.gz"
    if plain.exists():
        return json.loads(plain.read_text()), plain
    return json.loads(gzip.decompress(gz.read_bytes())), gz


def kms_model() -> tuple[dict, Path]:
    return load_model("kms")


@pytest.fixture(scope="module")
def services(dev) -> dict[str, Service]:
    fresh = (random_account(), "coverage-secret")
    out = {
        "kms": Service("kms", "KMS", KMS_IMPLEMENTED, ("AKIDCOVERAGE", "coverage-secret")),
        "ssm": Service("ssm", "Systems Manager", SSM_IMPLEMENTED, fresh),
        "iam": Service("iam", "IAM", IAM_IMPLEMENTED, fresh),
        "sts": Service("sts", "STS", STS_IMPLEMENTED, fresh),
        "s3": Service("s3", "S3", S3_IMPLEMENTED, fresh),
    }
    for s in out.values():
        s.model, s.model_path = load_model(s.key)
    return out


@pytest.fixture(scope="module")
def outcomes(dev, services) -> dict[str, dict[str, Outcome]]:
    out = {
        key: {op: s.send(dev.endpoint, op) for op in sorted(s.model["operations"])}
        for key, s in services.items()
    }
    routed = s3_routed(dev.log_text())
    for o in out["s3"].values():
        o.routed = routed.get(o.request_id, "")
    return out


SERVICE_KEYS = ["kms", "ssm", "iam", "sts"]
# The services whose served operations are listed above.
LISTED_KEYS = SERVICE_KEYS + ["s3"]


# ---- docs/coverage.md -------------------------------------------------------------------------


def _model_ref(s: Service) -> str:
    return f"`botocore/data/{s.key}/{s.api_version}/{s.model_path.name}`"


def _table(rows: list[Outcome]) -> list[str]:
    return ["| Operation | Status |", "|---|---|"] + [f"| {o.op} | {o.label} |" for o in rows]


def render(services: dict[str, Service], outcomes: dict[str, dict[str, Outcome]]) -> str:
    v = botocore.__version__
    lines = [
        "# Operation coverage",
        "",
        "Generated by `compat/test_coverage.py` (do not edit by hand): every operation of botocore "
        f"{v}'s KMS, Systems Manager, IAM, STS and S3 models was sent to `coffer serve --dev` as a "
        "SigV4-signed request with no parameters — awsJson (KMS, Systems Manager) with body `{}`, "
        "awsQuery (IAM, STS) as `Action=<Op>&Version=<apiVersion>`, rest-xml (S3) as the model's "
        "method and request URI, an empty body, and placeholders only for the bucket, the key and the "
        "required header and query members. "
        "An operation is *implemented* "
        f"unless Coffer answers `UnsupportedOperationException` (\"... {NOT_IMPLEMENTED_TEXT}\") "
        "or `UnknownOperationException` (awsJson), or `InvalidAction` "
        f"(\"{QUERY_NOT_FOUND_TEXT} ...\", awsQuery); an S3 operation is implemented when Coffer's "
        "request log shows it ran that operation (not `NotImplemented`, and not another operation "
        "the same request means to Coffer).",
        "",
        "| Service | Model | Implemented | Not implemented |",
        "|---|---|---|---|",
    ]
    for key in LISTED_KEYS:
        s, o = services[key], outcomes[key]
        done = sum(x.implemented for x in o.values())
        lines.append(f"| {s.title} | `{s.key}` {s.api_version} | {done} of {len(o)} | {len(o) - done} |")

    # KMS: every operation.
    s, o = services["kms"], outcomes["kms"]
    done = [x for x in o.values() if x.implemented]
    lines += [
        "", "## KMS", "",
        f"botocore {v}'s KMS model (API version {s.api_version}, {_model_ref(s)}): "
        f"**{len(done)} of {len(o)} operations implemented**, {len(o) - len(done)} not implemented.",
        "",
    ] + _table(list(o.values()))

    # Systems Manager: Parameter Store's operations; the rest summarized.
    s, o = services["ssm"], outcomes["ssm"]
    ps = [x for x in o.values() if is_parameter_store_op(x.op)]
    other = [x for x in o.values() if not is_parameter_store_op(x.op)]
    other_done = [x.op for x in other if x.implemented]
    done = [x for x in o.values() if x.implemented]
    lines += [
        "", "## Systems Manager (Parameter Store)", "",
        f"botocore {v}'s Systems Manager model (API version {s.api_version}, {_model_ref(s)}): "
        f"**{len(done)} of {len(o)} operations implemented** — Coffer serves Parameter Store. "
        f"Its {len(ps)} operations (those on parameters, and the tag operations it shares with other "
        "Systems Manager resources):",
        "",
    ] + _table(ps) + [
        "",
        f"The other {len(other)} operations of the model (Run Command, Automation, Session Manager, "
        "State Manager, Inventory, Patch Manager, OpsCenter, documents, maintenance windows, service "
        "settings, ...) are "
        + (f"not implemented, except {', '.join(other_done)}." if other_done else
           "not implemented: they answer `UnsupportedOperationException`."),
    ]

    # IAM: the implemented operations, then the rest by name.
    s, o = services["iam"], outcomes["iam"]
    done = [x for x in o.values() if x.implemented]
    missing = [x.op for x in o.values() if not x.implemented]
    lines += [
        "", "## IAM", "",
        f"botocore {v}'s IAM model (API version {s.api_version}, {_model_ref(s)}): "
        f"**{len(done)} of {len(o)} operations implemented** (users, access keys, roles, inline and "
        f"managed policies), {len(missing)} not implemented. Implemented:",
        "",
    ] + _table(done) + [
        "",
        f"Not implemented ({len(missing)}, answering `InvalidAction`): " + ", ".join(missing) + ".",
    ]

    # STS: every operation.
    s, o = services["sts"], outcomes["sts"]
    done = [x for x in o.values() if x.implemented]
    lines += [
        "", "## STS", "",
        f"botocore {v}'s STS model (API version {s.api_version}, {_model_ref(s)}): "
        f"**{len(done)} of {len(o)} operations implemented**, {len(o) - len(done)} not implemented.",
        "",
    ] + _table(list(o.values()))

    # S3: the implemented operations, then how the rest are answered.
    s, o = services["s3"], outcomes["s3"]
    done = [x for x in o.values() if x.implemented]
    refused = [x.op for x in o.values() if not x.implemented and x.code == "NotImplemented"]
    other = [x for x in o.values() if not x.implemented and x.code != "NotImplemented"]
    lines += [
        "", "## S3", "",
        f"botocore {v}'s S3 model (API version {s.api_version}, {_model_ref(s)}): "
        f"**{len(done)} of {len(o)} operations implemented** (buckets, objects, multipart uploads, "
        f"copies, bucket default encryption and bucket policies), {len(o) - len(done)} not implemented. "
        "Implemented:",
        "",
    ] + _table(done) + [
        "",
        f"Not implemented ({len(refused)}, answering 501 `NotImplemented`): " + ", ".join(refused) + ".",
    ]
    if other:
        lines += [
            "",
            f"Not implemented, and their requests are other operations to Coffer ({len(other)}; S3 requests "
            "name no operation, so a request of an unserved feature can look like a served one):",
            "",
        ] + _table(other)
    return "\n".join(lines) + "\n"


def test_write_coverage_table(services, outcomes):
    text = render(services, outcomes)
    print("\n" + text)
    COVERAGE_MD.parent.mkdir(parents=True, exist_ok=True)
    if not COVERAGE_MD.exists() or COVERAGE_MD.read_text() != text:
        COVERAGE_MD.write_text(text)
    # The whole of each model was exercised.
    assert len(outcomes["kms"]) >= 50 and len(outcomes["ssm"]) >= 140
    assert len(outcomes["iam"]) >= 150 and len(outcomes["sts"]) >= 8
    assert len(outcomes["s3"]) >= 100


# ---- what the brief says is served -------------------------------------------------------------


@pytest.mark.parametrize("key", LISTED_KEYS)
def test_every_listed_operation_is_implemented(services, outcomes, key):
    s, o = services[key], outcomes[key]
    missing_from_model = sorted(s.implemented - set(o))
    assert not missing_from_model, f"not in botocore's model: {missing_from_model}"
    not_served = {op: (x.code, x.message) for op, x in o.items() if op in s.implemented and not x.implemented}
    assert not not_served, not_served


def test_only_parameter_store_of_ssm(outcomes):
    """Coffer serves Parameter Store of Systems Manager, nothing else of it."""
    other = sorted(op for op, x in outcomes["ssm"].items() if x.implemented and not is_parameter_store_op(op))
    assert not other, other


@pytest.mark.parametrize("key", SERVICE_KEYS)
def test_other_operations_answer_unsupported(outcomes, key):
    """Every modeled operation Coffer does not serve is still answered as AWS answers an
    operation it does not know: HTTP 400, UnsupportedOperationException naming the operation
    (awsJson; never UnknownOperationException for a modeled operation) or InvalidAction "Could not
    find operation <Op> for version <apiVersion>" (awsQuery). (Operations served beyond the lists
    are fine: the table shows them.)"""
    bad = {}
    for op, x in outcomes[key].items():
        if x.implemented:
            continue
        if x.protocol == "query":
            ok = x.status == 400 and x.code == "InvalidAction" and re.search(rf"\b{op}\b", x.message)
        else:
            ok = x.status == 400 and x.code == "UnsupportedOperationException" and op in x.message
        if not ok:
            bad[op] = (x.status, x.code, x.message)
    assert not bad, bad


@pytest.mark.parametrize("key", SERVICE_KEYS)
def test_missing_required_members_are_validation_errors(services, outcomes, key):
    """As in AWS: a request without a served operation's required members is a 400
    ValidationException (awsJson) or ValidationError (awsQuery); no request is a server error."""
    s, o = services[key], outcomes[key]
    wrong = {}
    for op, x in o.items():
        assert x.status < 500, (op, x)
        if not x.implemented:
            continue
        shape = s.model["operations"][op].get("input", {}).get("shape")
        required = s.model["shapes"][shape].get("required", []) if shape else []
        if required and (x.status, x.code) != (400, s.validation_code):
            wrong[op] = (required, x.status, x.code, x.message)
    assert not wrong, wrong


def test_unknown_operation(dev, services):
    creds = services["kms"].credentials
    status, body = raw_json(dev.endpoint, "TrentService.NoSuchOperation", credentials=creds)
    assert status == 400 and wire_error(body)[0] == "UnknownOperationException"
    status, body = raw_json(dev.endpoint, "NotTrentService.CreateKey", credentials=creds)
    assert status == 400 and wire_error(body)[0] == "UnknownOperationException"
    status, body = raw_json(dev.endpoint, "AmazonSSM.NoSuchOperation", credentials=creds, service="ssm")
    assert status == 400 and wire_error(body)[0] == "UnknownOperationException"
    for key in ("iam", "sts"):
        s = services[key]
        status, xml = raw_query(dev.endpoint, key, {"Action": "NoSuchOperation", "Version": s.api_version}, creds)
        assert status == 400, xml
        code, message = query_error(xml)
        assert code == "InvalidAction" and message.startswith(f"{QUERY_NOT_FOUND_TEXT} NoSuchOperation"), xml


# ---- S3 ----------------------------------------------------------------------------------------

# On a general-purpose S3 endpoint this is the same request as a served operation (AWS serves
# ListDirectoryBuckets, `GET /?x-id=ListDirectoryBuckets`, on its S3 Express endpoints only).
S3_SAME_REQUEST = {"ListDirectoryBuckets": "ListBuckets"}


def test_s3_probes_reach_their_operations(outcomes):
    """Every S3 probe was logged by Coffer, and none is a server error other than 501."""
    o = outcomes["s3"]
    unlogged = sorted(op for op, x in o.items() if not x.routed)
    assert not unlogged, unlogged
    errors = {op: (x.status, x.code, x.message) for op, x in o.items()
              if x.status >= 500 and (x.status, x.code) != (501, "NotImplemented")}
    assert not errors, errors


def test_s3_other_operations_answer_not_implemented(outcomes):
    wrong = {op: x.routed for op, x in outcomes["s3"].items()
             if not x.implemented and x.code != "NotImplemented" and S3_SAME_REQUEST.get(op) != x.routed}
    assert not wrong, wrong
