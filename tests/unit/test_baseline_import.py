"""``patchwarden baseline import`` of real AWS JSON: bookkeeping fields ignored, a
BaselineOverride (no Name) named for its content, errors naming the file, and the
Debian/Ubuntu ApproveAfterDays warning (``--aws-strict`` drops the delay as AWS does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from patchwarden.cli.main import main
from patchwarden.documents import from_aws_json

UBUNTU: dict[str, Any] = {
    "OperatingSystem": "UBUNTU",
    "GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["Ubuntu22.04"]}]},
    "ApprovalRules": {
        "PatchRules": [
            {
                "PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Required"]}]},
                "ComplianceLevel": "HIGH",
                "ApproveAfterDays": 7,
            },
            {
                "PatchFilterGroup": {"PatchFilters": [{"Key": "SECTION", "Values": ["*"]}]},
                "ApproveAfterDays": 0,
            },
        ]
    },
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(["baseline", "import", *argv])
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


def write(tmp_path: Path, raw: object, name: str = "aws.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw, indent=2) if not isinstance(raw, str) else raw)
    return path


def test_tags_and_client_token_are_ignored(tmp_path: Path) -> None:
    raw = {
        **UBUNTU,
        "Name": "web-ubuntu",
        "BaselineId": "pb-0123456789abcdef0",
        "Tags": [{"Key": "team", "Value": "web"}],
        "ClientToken": "d2b1f9e0-token",
    }
    assert from_aws_json(json.dumps(raw)).name == "web-ubuntu"


def test_a_baseline_override_without_name_gets_a_name_from_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, UBUNTU)
    code, out, _ = run(capsys, str(path), "--aws-strict")
    assert code == 0
    name = yaml.safe_load(out)["metadata"]["name"]
    assert name.startswith("imported-ubuntu-") and len(name) == len("imported-ubuntu-") + 8
    # the same content (whatever its layout) gives the same name; other content another
    write(tmp_path, json.dumps(UBUNTU), "compact.json")
    assert (
        yaml.safe_load(run(capsys, str(tmp_path / "compact.json"), "--aws-strict")[1])["metadata"][
            "name"
        ]
        == name
    )
    other = write(tmp_path, {**UBUNTU, "ApprovedPatches": ["nginx"]}, "other.json")
    assert yaml.safe_load(run(capsys, str(other), "--aws-strict")[1])["metadata"]["name"] != name


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "invalid JSON at line 1, column 2"),
        ({**UBUNTU, "Colour": 1}, "Colour: unknown field"),
        ({**UBUNTU, "Name": "x"}, "Name: must be 3-128"),
        ({**UBUNTU, "OperatingSystem": "PLAN9"}, "OperatingSystem"),
        ("[" * 10_000 + "]" * 10_000, "nested more than 64 levels deep"),
    ],
)
def test_errors_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: object, problem: str
) -> None:
    path = write(tmp_path, raw)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"patchwarden: error: {path}: ")
    assert problem in err
    assert "<aws json>" not in err
    assert err.count("\n") == 1


def test_approve_after_days_on_ubuntu_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, {**UBUNTU, "Name": "web-ubuntu"})
    code, out, err = run(capsys, str(path))
    assert code == 0
    rules = yaml.safe_load(out)["spec"]["ApprovalRules"]["PatchRules"]
    assert [r["ApproveAfterDays"] for r in rules] == [7, 0]  # Patchwarden keeps the delay
    assert err == (
        f"patchwarden: warning: {path}: ApprovalRules.PatchRules[0].ApproveAfterDays 7: "
        "AWS ignores ApproveAfterDays on Debian/Ubuntu; Patchwarden applies it from "
        "first-seen dates (docs/release-dates.md); --aws-strict imports it the AWS way "
        "(no delay)\n"
    )


def test_aws_strict_drops_the_delay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {**UBUNTU, "Name": "web-ubuntu", "OperatingSystem": "DEBIAN"})
    code, out, err = run(capsys, str(path), "--aws-strict")
    assert (code, err) == (0, "")
    rules = yaml.safe_load(out)["spec"]["ApprovalRules"]["PatchRules"]
    assert [r["ApproveAfterDays"] for r in rules] == [0, 0]


def test_other_operating_systems_keep_the_delay_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {**UBUNTU, "Name": "rhel", "OperatingSystem": "REDHAT_ENTERPRISE_LINUX"}
    raw["GlobalFilters"] = {"PatchFilters": []}
    raw["ApprovalRules"] = {
        "PatchRules": [{"PatchFilterGroup": {"PatchFilters": []}, "ApproveAfterDays": 7}]
    }
    path = write(tmp_path, raw)
    code, out, err = run(capsys, str(path), "--aws-strict")
    assert (code, err) == (0, "")
    assert yaml.safe_load(out)["spec"]["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] == 7
