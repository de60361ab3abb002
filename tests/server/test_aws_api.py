"""The AWS-compatible endpoint ``/aws/ssm``: boto3 and the AWS CLI drive the patch
baseline operations with access keys made for an operator token, and every answer parses
against botocore's own ``ssm`` model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from aws_helpers import (  # noqa: E402
    REGION,
    aws_cli,
    code_of,
    isolate_aws_config,
    keys,
    live_server,
    ssm_client,
)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from fleet_helpers import Api  # noqa: E402

BASELINE = {
    "Name": "web-security",
    "OperatingSystem": "DEBIAN",
    "Description": "security updates of the web tier",
    "ApprovalRules": {
        "PatchRules": [
            {
                "PatchFilterGroup": {
                    "PatchFilters": [
                        {"Key": "PRODUCT", "Values": ["*"]},
                        {"Key": "PRIORITY", "Values": ["Required", "Important"]},
                    ]
                },
                "ComplianceLevel": "HIGH",
                "ApproveAfterDays": 0,
            }
        ]
    },
    "RejectedPatches": ["telnet"],
}


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_config(monkeypatch)


# -- the model as the oracle ---------------------------------------------------------------


@pytest.fixture
def ssm(api: Api) -> Any:
    api.clock.current = datetime.now(UTC)  # SigV4 checks the date against the server's clock
    return ssm_client(api, *keys(api, "aws-operator", "operator"))


# -- the baseline lifecycle ----------------------------------------------------------------


def test_a_baseline_lifecycle_through_boto3(api: Api, ssm: Any) -> None:
    baseline_id = ssm.create_patch_baseline(**BASELINE)["BaselineId"]
    assert baseline_id.startswith("pb-")
    native = api.ok("GET", "/api/v1/baselines/web-security")
    assert native["baseline_id"] == baseline_id  # the same baseline, the same id

    got = ssm.get_patch_baseline(BaselineId=baseline_id)
    assert got["Name"] == "web-security" and got["OperatingSystem"] == "DEBIAN"
    assert got["RejectedPatches"] == ["telnet"]
    rule = got["ApprovalRules"]["PatchRules"][0]
    assert rule["ComplianceLevel"] == "HIGH" and rule["ApproveAfterDays"] == 0
    assert isinstance(got["CreatedDate"], datetime)

    pages = ssm.get_paginator("describe_patch_baselines").paginate(PaginationConfig={"PageSize": 2})
    identities = [i for p in pages for i in p["BaselineIdentities"]]
    ids = [i["BaselineId"] for i in identities]
    assert ids[0] == baseline_id and len(ids) == len(set(ids)) > 10  # ours, then AWS's
    assert "AWS-DebianDefaultPatchBaseline" in ids
    own = ssm.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["Self"]}])
    assert [i["BaselineName"] for i in own["BaselineIdentities"]] == ["web-security"]
    debian = ssm.describe_patch_baselines(
        Filters=[{"Key": "OPERATING_SYSTEM", "Values": ["DEBIAN"]}]
    )["BaselineIdentities"]
    assert {i["BaselineName"] for i in debian} == {"web-security", "AWS-DebianDefaultPatchBaseline"}
    named = ssm.describe_patch_baselines(Filters=[{"Key": "NAME_PREFIX", "Values": ["web-"]}])
    assert [i["BaselineId"] for i in named["BaselineIdentities"]] == [baseline_id]

    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="web")
    with pytest.raises(ClientError) as again:
        ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="web")
    assert code_of(again) == "AlreadyExistsException"
    mapped = ssm.get_patch_baseline_for_patch_group(PatchGroup="web", OperatingSystem="DEBIAN")
    assert mapped["BaselineId"] == baseline_id
    groups = ssm.describe_patch_groups()["Mappings"]
    assert groups == [
        {
            "PatchGroup": "web",
            "BaselineIdentity": {
                "BaselineId": baseline_id,
                "BaselineName": "web-security",
                "OperatingSystem": "DEBIAN",
                "BaselineDescription": "security updates of the web tier",
                "DefaultBaseline": False,
            },
        }
    ]
    assert ssm.get_patch_baseline(BaselineId=baseline_id)["PatchGroups"] == ["web"]
    with pytest.raises(ClientError) as used:
        ssm.delete_patch_baseline(BaselineId=baseline_id)
    assert code_of(used) == "ResourceInUseException"

    updated = ssm.update_patch_baseline(BaselineId=baseline_id, RejectedPatches=["telnet", "rsh"])
    assert updated["RejectedPatches"] == ["telnet", "rsh"]
    assert updated["Description"] == "security updates of the web tier"  # kept
    assert updated["ApprovalRules"]["PatchRules"][0]["ComplianceLevel"] == "HIGH"
    replaced = ssm.update_patch_baseline(BaselineId=baseline_id, Replace=True)
    assert replaced["RejectedPatches"] == [] and "Description" not in replaced

    ssm.deregister_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="web")
    assert ssm.describe_patch_groups()["Mappings"] == []
    with pytest.raises(ClientError) as gone:
        ssm.deregister_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="web")
    assert code_of(gone) == "InvalidResourceId"
    assert ssm.delete_patch_baseline(BaselineId=baseline_id)["BaselineId"] == baseline_id
    with pytest.raises(ClientError) as missing:
        ssm.get_patch_baseline(BaselineId=baseline_id)
    assert code_of(missing) == "DoesNotExistException"

    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    for action in (
        "baseline.create",
        "baseline.update",
        "patch_group.register",
        "patch_group.deregister",
        "baseline.delete",
    ):
        assert action in actions
    entry = next(e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "baseline.create")
    assert entry["actor"] == "token:aws-operator"  # the same record the native API writes


def test_default_baselines_and_predefined_ones(api: Api, ssm: Any) -> None:
    default = ssm.get_default_patch_baseline(OperatingSystem="UBUNTU")
    assert default == {**default, "BaselineId": "AWS-UbuntuDefaultPatchBaseline"}
    arn = "arn:aws:ssm:eu-west-3::patchbaseline/AWS-UbuntuDefaultPatchBaseline"
    predefined = ssm.get_patch_baseline(BaselineId=arn)
    assert predefined["Name"] == "AWS-UbuntuDefaultPatchBaseline"
    assert predefined["OperatingSystem"] == "UBUNTU"
    with pytest.raises(ClientError) as windows:
        ssm.get_default_patch_baseline()  # AWS's default OperatingSystem: WINDOWS
    assert code_of(windows) == "DoesNotExistException"

    ours = ssm.create_patch_baseline(**{**BASELINE, "OperatingSystem": "UBUNTU"})["BaselineId"]
    ssm.register_default_patch_baseline(BaselineId=ours)
    assert ssm.get_default_patch_baseline(OperatingSystem="UBUNTU")["BaselineId"] == ours
    assert api.ok("GET", "/api/v1/default-baselines")[0]["baseline_id"] == ours
    fallback = ssm.get_patch_baseline_for_patch_group(PatchGroup="db", OperatingSystem="UBUNTU")
    assert fallback["BaselineId"] == ours  # no registration: the OS's default
    ssm.register_default_patch_baseline(BaselineId="AWS-UbuntuDefaultPatchBaseline")
    assert api.ok("GET", "/api/v1/default-baselines") == []
    with pytest.raises(ClientError) as predefined_change:
        ssm.delete_patch_baseline(BaselineId="AWS-UbuntuDefaultPatchBaseline")
    assert code_of(predefined_change) == "ValidationException"


def test_bad_parameters_are_validation_errors(api: Api, ssm: Any) -> None:
    ssm.create_patch_baseline(**BASELINE)
    with pytest.raises(ClientError) as taken:
        ssm.create_patch_baseline(**BASELINE)
    assert code_of(taken) == "AlreadyExistsException"
    rule = {"PatchFilterGroup": {"PatchFilters": [{"Key": "NOT_A_KEY", "Values": ["x"]}]}}
    with pytest.raises(ClientError) as bad:
        ssm.create_patch_baseline(
            Name="bad-one", OperatingSystem="DEBIAN", ApprovalRules={"PatchRules": [rule]}
        )
    assert code_of(bad) == "ValidationException"
    with pytest.raises(ClientError) as windows:
        ssm.create_patch_baseline(Name="win-one")  # AWS defaults to WINDOWS
    assert code_of(windows) == "ValidationException"
    with pytest.raises(ClientError) as token:
        ssm.describe_patch_baselines(NextToken="not-a-token")
    assert code_of(token) == "InvalidNextToken"
    with pytest.raises(ClientError) as key:
        ssm.describe_patch_baselines(Filters=[{"Key": "COLOUR", "Values": ["x"]}])
    assert code_of(key) == "ValidationException"


# -- who may call --------------------------------------------------------------------------


def test_signatures_keys_and_roles(api: Api, ssm: Any) -> None:
    key, secret = keys(api, "aws-viewer", "viewer")
    viewer = ssm_client(api, key, secret)
    assert viewer.describe_patch_baselines()["BaselineIdentities"]
    with pytest.raises(ClientError) as weak:
        viewer.create_patch_baseline(**BASELINE)
    assert code_of(weak) == "AccessDeniedException"
    with pytest.raises(ClientError) as wrong:
        ssm_client(
            api, key, secret[:-1] + ("A" if secret[-1] != "A" else "B")
        ).describe_patch_baselines()
    assert code_of(wrong) == "InvalidSignatureException"
    with pytest.raises(ClientError) as unknown:
        ssm_client(api, "PWAKAAAAAAAAAAAAAAAA", secret).describe_patch_baselines()
    assert code_of(unknown) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as unsupported:
        ssm.describe_sessions(State="Active")
    assert code_of(unsupported) == "UnknownOperationException"

    # revoking the token disables its keys
    token_id = next(t["id"] for t in api.ok("GET", "/api/v1/tokens") if t["name"] == "aws-viewer")
    api.ok("DELETE", f"/api/v1/tokens/{token_id}")
    with pytest.raises(ClientError) as revoked:
        viewer.describe_patch_baselines()
    assert code_of(revoked) == "UnrecognizedClientException"
    listed = api.ok("GET", "/api/v1/tokens")
    assert all("aws_secret_access_key" not in t for t in listed)  # shown once only


def test_malformed_bodies_are_400_never_500(api: Api, ssm: Any) -> None:
    def send_raw(body: bytes) -> Any:
        ssm.meta.events.register_first(
            "before-sign.ssm.DescribePatchBaselines",
            lambda request, **_: setattr(request, "data", body),
            unique_id="raw-body",
        )
        try:
            return ssm.describe_patch_baselines()
        finally:
            ssm.meta.events.unregister(
                "before-sign.ssm.DescribePatchBaselines", unique_id="raw-body"
            )

    for body, expected in (
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (b'{"MaxResults": "ten"}', "SerializationException"),
        (b'{"MaxResults": 1000}', "ValidationException"),
        (b'{"Filters": [{"Key": 7}]}', "SerializationException"),
        (b"[" * 100 + b"]" * 100, "SerializationException"),  # the edge's nesting limit
    ):
        with pytest.raises(ClientError) as error:
            send_raw(body)
        assert code_of(error) == expected, body
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- a real server: the trailing slash botocore adds, and the AWS CLI ------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A uvicorn server on 127.0.0.1 (SQLite, the wall clock) and its admin token."""
    with live_server(tmp_path) as served:
        yield served


def test_boto3_and_the_aws_cli_over_http(http_server: tuple[str, str]) -> None:
    import httpx

    base, admin = http_server
    made = httpx.post(
        f"{base}/api/v1/tokens",
        headers={"Authorization": f"Bearer {admin}"},
        json={"name": "aws-cli", "role": "operator", "aws_keys": True},
    ).json()
    key, secret = made["aws_access_key_id"], made["aws_secret_access_key"]
    client = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client("ssm", endpoint_url=f"{base}/aws/ssm", config=Config(retries={"max_attempts": 1}))
    seen: list[str] = []
    client.meta.events.register("before-send.ssm", lambda request, **_: seen.append(request.url))
    baseline_id = client.create_patch_baseline(**BASELINE)["BaselineId"]
    slashed = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client("ssm", endpoint_url=f"{base}/aws/ssm/", config=Config(retries={"max_attempts": 1}))
    slashed.meta.events.register("before-send.ssm", lambda request, **_: seen.append(request.url))
    assert slashed.get_patch_baseline(BaselineId=baseline_id)["Name"] == "web-security"
    # botocore versions differ on the trailing slash of JSON protocols: both are served
    assert [u.removeprefix(base) for u in seen] == ["/aws/ssm", "/aws/ssm/"]

    # `patchwarden token create --aws-keys` prints a pair once; the AWS CLI uses it
    made_by_cli = subprocess.run(
        [
            *(sys.executable, "-m", "patchwarden", "token", "create", "--role", "viewer"),
            *("--name", "aws-cli-viewer", "--aws-keys", "--server", base, "--token", admin),
            *("--format", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made_by_cli.returncode == 0, made_by_cli.stderr
    printed = json.loads(made_by_cli.stdout)
    key, secret = printed["aws_access_key_id"], printed["aws_secret_access_key"]
    listed = aws_cli(base, key, secret, "describe-patch-baselines")["BaselineIdentities"]
    assert listed[0] == {
        "BaselineId": baseline_id,
        "BaselineName": "web-security",
        "OperatingSystem": "DEBIAN",
        "BaselineDescription": "security updates of the web tier",
        "DefaultBaseline": False,
    }
