"""PatchBaseline documents, raw AWS JSON, and one-line errors naming the field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from patchwarden.core.baseline import (
    PatchBaseline,
    RejectedPatchesAction,
    SecurityUpdates,
    default_baseline,
)
from patchwarden.core.model import ComplianceLevel
from patchwarden.documents import (
    KINDS,
    BaselineDocument,
    from_aws_json,
    load_documents,
    parse_documents,
    to_document,
)
from patchwarden.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "baselines"
AWS_JSON = ROOT / "tests" / "data" / "aws-get-patch-baseline.json"

VALID = """\
apiVersion: patchwarden/v1
kind: PatchBaseline
metadata:
  name: web-servers
  labels: {team: web}
spec:
  OperatingSystem: UBUNTU
  GlobalFilters:
    PatchFilters:
      - {Key: PRODUCT, Values: [Ubuntu22.04]}
  ApprovalRules:
    PatchRules:
      - PatchFilterGroup:
          PatchFilters:
            - {Key: PRIORITY, Values: [Required, Important]}
        ComplianceLevel: HIGH
        ApproveAfterDays: 3
      - PatchFilterGroup: {PatchFilters: [{Key: SECTION, Values: ["*"]}]}
        ApproveUntilDate: 2024-05-31
        EnableNonSecurity: true
  ApprovedPatches: [nginx]
  RejectedPatches: [telnetd]
  RejectedPatchesAction: BLOCK
"""


def only_baseline(text: str) -> PatchBaseline:
    (document,) = parse_documents(text)
    assert isinstance(document, BaselineDocument)
    return document.baseline


def test_a_document_becomes_a_core_baseline() -> None:
    (document,) = parse_documents(VALID, "web.yaml")
    assert isinstance(document, BaselineDocument)
    assert (document.kind, document.name, document.source) == (
        "PatchBaseline",
        "web-servers",
        "web.yaml",
    )
    assert document.labels == {"team": "web"}
    baseline = document.baseline
    assert baseline.operating_system == "UBUNTU"
    first, second = baseline.approval_rules
    assert (first.compliance_level, first.approve_after_days) == (ComplianceLevel.HIGH, 3)
    assert second.approve_until_date == date(2024, 5, 31) and second.enable_non_security
    assert second.compliance_level is ComplianceLevel.UNSPECIFIED
    assert baseline.rejected_patches_action is RejectedPatchesAction.BLOCK


def test_registry_is_explicit() -> None:
    assert set(KINDS) == {
        "PatchBaseline",
        "Suppression",
        "MaintenanceWindow",
        "Rule",
        "Runbook",
        "ConformancePack",
        "Component",
        "ImageRecipe",
        "ImagePipeline",
        "DistributionConfiguration",
        "LifecyclePolicy",
        "Deployment",
    }


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load_and_round_trip(path: Path) -> None:
    (document,) = load_documents(path)
    assert isinstance(document, BaselineDocument)
    again = only_baseline(yaml.safe_dump(to_document(document.baseline)))
    assert again == document.baseline


def test_examples_directory() -> None:
    names = [d.name for d in load_documents(EXAMPLES)]
    assert names == [
        "debian-approve-all",
        "debian-security-7days",
        "debian-security-newest-in-release",
    ]


def test_round_trip_keeps_labels_and_every_default_baseline() -> None:
    baseline = only_baseline(VALID)
    document = to_document(baseline, labels={"team": "web"})
    assert document["metadata"]["labels"] == {"team": "web"}
    assert document["spec"]["ApprovalRules"]["PatchRules"][1]["ApproveUntilDate"] == "2024-05-31"
    assert only_baseline(yaml.safe_dump(document)) == baseline
    for operating_system in ("DEBIAN", "AMAZON_LINUX_2023", "SUSE", "CENTOS"):
        default = default_baseline(operating_system)
        assert only_baseline(yaml.safe_dump(to_document(default))) == default


def test_patchwarden_settings_round_trip_and_stay_out_of_aws_defaults() -> None:
    text = VALID + "  Patchwarden:\n    SecurityUpdates: NEWEST_IN_RELEASE\n"
    baseline = only_baseline(text)
    assert baseline.security_updates is SecurityUpdates.NEWEST_IN_RELEASE
    document = to_document(baseline)
    assert document["spec"]["Patchwarden"] == {"SecurityUpdates": "NEWEST_IN_RELEASE"}
    assert only_baseline(yaml.safe_dump(document)) == baseline
    assert "Patchwarden" not in to_document(only_baseline(VALID))["spec"]


def test_aws_get_patch_baseline_json() -> None:
    baseline = from_aws_json(AWS_JSON.read_text())
    assert baseline.name == "RHEL-Production"
    assert baseline.operating_system == "REDHAT_ENTERPRISE_LINUX"
    assert baseline.description == "Production RHEL 9: critical security fixes after a week"
    assert baseline.approved_patches == ("RHSA-2024:1234", "openssl-3.0.7-27.el9.x86_64")
    assert baseline.approved_patches_compliance_level is ComplianceLevel.HIGH
    assert baseline.approval_rules[1].approve_until_date == date(2024, 5, 31)
    assert baseline.global_filters[0].values == ("RedhatEnterpriseLinux9",)
    assert only_baseline(yaml.safe_dump(to_document(baseline))) == baseline


def test_several_documents_in_one_file(tmp_path: Path) -> None:
    second = VALID.replace("web-servers", "db-servers")
    path = tmp_path / "all.yaml"
    path.write_text(f"---\n{VALID}---\n{second}---\n")
    documents = load_documents(path)
    assert [(d.name, d.source) for d in documents] == [
        ("web-servers", f"{path}#1"),
        ("db-servers", f"{path}#2"),
    ]


def test_json_documents_and_yaml_conveniences(tmp_path: Path) -> None:
    as_json = tmp_path / "b.json"
    as_json.write_text(json.dumps(to_document(only_baseline(VALID))))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [d.name for d in load_documents(tmp_path)] == ["web-servers"]
    numeric = VALID.replace("ApprovedPatches: [nginx]", "ApprovedPatches: [1234567]")
    assert only_baseline(numeric).approved_patches == ("1234567",)


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    with pytest.raises(
        InputError, match=r"b\.yaml: PatchBaseline 'web-servers' is already defined in .*a\.yaml"
    ):
        load_documents(tmp_path)


def test_missing_and_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        load_documents(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match=r"no \.yaml, \.yml or \.json files"):
        load_documents(tmp_path)
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(InputError, match="contains no documents"):
        load_documents(tmp_path)


def _edit(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


MALFORMED = [
    ("spec: [unclosed", "invalid YAML at line 1"),
    ("- just\n- a list\n", "(document): must be a mapping, got list"),
    (
        _edit("patchwarden/v1", "patchwarden/v2"),
        "apiVersion: must be 'patchwarden/v1', got 'patchwarden/v2'",
    ),
    (
        _edit("kind: PatchBaseline", "kind: Baseline"),
        "kind: must be one of PatchBaseline, Suppression, MaintenanceWindow, Rule, Runbook, "
        "ConformancePack, Component, ImageRecipe, ImagePipeline, DistributionConfiguration, "
        "LifecyclePolicy, Deployment, got 'Baseline'",
    ),
    (_edit("apiVersion: patchwarden/v1\n", ""), "apiVersion: required field is missing"),
    (_edit("kind: PatchBaseline\n", "kind: PatchBaseline\nstatus: {}\n"), "status: unknown field"),
    (_edit("  name: web-servers\n", ""), "metadata.name: required field is missing"),
    (_edit("name: web-servers", "name: w"), "metadata.name: must be 3-128"),
    (
        _edit("labels: {team: web}", "labels: {team: 7}"),
        "metadata.labels.team: must be a string, got int",
    ),
    (_edit("  OperatingSystem: UBUNTU\n", ""), "spec.OperatingSystem: required field is missing"),
    (
        _edit("OperatingSystem: UBUNTU", "OperatingSystem: WINDOWS"),
        "spec.OperatingSystem: WINDOWS is not supported",
    ),
    (
        _edit("  ApprovedPatches", "  Approved: []\n  ApprovedPatches"),
        "spec.Approved: unknown field",
    ),
    (
        _edit("ApproveAfterDays: 3", "ApproveAfterDays: '3'"),
        "spec.ApprovalRules.PatchRules[0].ApproveAfterDays: must be an integer, got str",
    ),
    (
        _edit("ApproveAfterDays: 3", "ApproveAfterDays: 400"),
        "spec.ApprovalRules.PatchRules[0].ApproveAfterDays: must be between 0 and 360, got 400",
    ),
    (
        _edit("ApproveAfterDays: 3", "ApproveAfterDays: 3\n        ApproveUntilDate: 2024-01-01"),
        "spec.ApprovalRules.PatchRules[0]: exactly one of ApproveAfterDays and ApproveUntilDate",
    ),
    (
        _edit("ComplianceLevel: HIGH", "ComplianceLevel: SEVERE"),
        "spec.ApprovalRules.PatchRules[0].ComplianceLevel: must be 'CRITICAL', 'HIGH',",
    ),
    (
        _edit("ApproveUntilDate: 2024-05-31", "ApproveUntilDate: 31/05/2024"),
        "spec.ApprovalRules.PatchRules[1].ApproveUntilDate: must be a date written YYYY-MM-DD",
    ),
    (
        _edit("ApproveUntilDate: 2024-05-31", "ApproveUntilDate: '2024-02-30'"),
        "spec.ApprovalRules.PatchRules[1].ApproveUntilDate: '2024-02-30' is not a calendar date",
    ),
    (
        _edit("EnableNonSecurity: true", "EnableNonSecurity: 'yes'"),
        "spec.ApprovalRules.PatchRules[1].EnableNonSecurity: must be true or false, got str",
    ),
    (
        _edit("{Key: PRODUCT, Values: [Ubuntu22.04]}", "{Key: CLASSIFICATION, Values: [Security]}"),
        "spec.GlobalFilters.PatchFilters[0].Key: 'CLASSIFICATION' cannot approve for UBUNTU",
    ),
    (
        _edit("Values: [Ubuntu22.04]", "Values: Ubuntu22.04"),
        "spec.GlobalFilters.PatchFilters[0].Values: must be a list, got str",
    ),
    (
        _edit("Values: [Ubuntu22.04]", "Values: []"),
        "spec.GlobalFilters.PatchFilters[0].Values: must have 1-20 values, got 0",
    ),
    (
        _edit(
            "      - PatchFilterGroup:\n          PatchFilters:\n",
            "      - PatchFilterGrop:\n          PatchFilters:\n",
        ),
        "spec.ApprovalRules.PatchRules[0].PatchFilterGroup: required field is missing "
        "(and 1 more problem)",
    ),
    (
        _edit("RejectedPatchesAction: BLOCK", "RejectedPatchesAction: DENY"),
        "spec.RejectedPatchesAction: must be 'ALLOW_AS_DEPENDENCY' or 'BLOCK', got 'DENY'",
    ),
    (
        _edit("RejectedPatches: [telnetd]", "RejectedPatches: ['']"),
        "spec.RejectedPatches[0]: must be 1-100",
    ),
    (
        _edit(
            "  OperatingSystem: UBUNTU\n", "  OperatingSystem: UBUNTU\n  Description: x\n"
        ).replace("  labels: {team: web}\n", "  description: y\n"),
        "spec.Description: differs from metadata.description",
    ),
    (
        "apiVersion: patchwarden/v1\nkind: PatchBaseline\nmetadata: {name: abc}\nspec: [1]\n",
        "spec: must be a mapping, got list",
    ),
    (
        _edit("  RejectedPatchesAction: BLOCK\n", "  Patchwarden: {SecurityUpdates: NEWEST}\n"),
        "spec.Patchwarden.SecurityUpdates: must be 'AS_APPROVED' or 'NEWEST_IN_RELEASE', got",
    ),
    (
        _edit("  RejectedPatchesAction: BLOCK\n", "  Patchwarden: {Other: 1}\n"),
        "spec.Patchwarden.Other: unknown field",
    ),
    (
        "apiVersion: patchwarden/v1\nkind: PatchBaseline\nmetadata: {name: abc}\nspec:\n"
        "  OperatingSystem: ROCKY_LINUX\n  Patchwarden: {SecurityUpdates: NEWEST_IN_RELEASE}\n",
        "spec.Patchwarden.SecurityUpdates: NEWEST_IN_RELEASE applies to Debian/Ubuntu baselines",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_documents_give_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_documents(text, "b.yaml")
    assert str(caught.value).startswith(f"b.yaml: {message}"), str(caught.value)
    assert "\n" not in str(caught.value)


def test_raw_aws_json_given_as_a_document_gets_a_hint() -> None:
    with pytest.raises(InputError, match="looks like raw 'aws ssm get-patch-baseline' JSON"):
        parse_documents(AWS_JSON.read_text(), "b.json")


def test_metadata_description_is_the_baseline_description() -> None:
    text = _edit("  labels: {team: web}\n", "  description: Web tier\n")
    assert only_baseline(text).description == "Web tier"


AWS_MALFORMED = [
    ("{not json", "<aws json>: invalid JSON at line 1, column 2"),
    ('{"OperatingSystem": "UBUNTU"}', "Name: required field is missing"),
    ('{"Name": "x", "OperatingSystem": "UBUNTU"}', "Name: must be 3-128"),
    ('{"Name": "abc", "OperatingSystem": "UBUNTU", "Colour": 1}', "Colour: unknown field"),
    (
        '{"Name": "abc", "OperatingSystem": "UBUNTU", "ApprovalRules": {"PatchRules": '
        '[{"PatchFilterGroup": {"PatchFilters": []}, "ApproveAfterDays": 400}]}}',
        "ApprovalRules.PatchRules[0].ApproveAfterDays: must be between 0 and 360, got 400",
    ),
]


@pytest.mark.parametrize(("text", "message"), AWS_MALFORMED)
def test_malformed_aws_json(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        from_aws_json(text)
    assert str(caught.value).startswith(message), str(caught.value)


# --- hostile documents: size, nesting depth, YAML aliases ----------------------------------

_LAUGHS = "".join(
    f"            {n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
BOMB = f"""\
apiVersion: patchwarden/v1
kind: MaintenanceWindow
metadata: {{name: laughs}}
spec:
  Schedule: rate(1 day)
  Duration: 2
  Cutoff: 1
  Targets: [{{Key: tag:Role, Values: [web]}}]
  Tasks:
    - Name: patch
      TaskInvocationParameters:
        RunCommand:
          Parameters:
            Operation: Install
            a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
{_LAUGHS}"""


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "[" * 10_000 + "]" * 10_000),
        ("deep.json", "[" * 10_000 + "]" * 10_000),
        ("deep-flow.yaml", "key: " + "[" * 10_000 + "]" * 10_000),
        ("deep-block.yaml", "".join(f"{'  ' * i}- \n" for i in range(100)) + "  " * 100 + "x\n"),
        ("deep-map.json", '{"a":' * 10_000 + "1" + "}" * 10_000),
        ("nested.yaml", "[" * 65 + "]" * 65),
    ],
)
def test_deep_nesting_is_one_line_naming_the_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_documents(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "nested more than 64 levels deep" in message


def test_nesting_up_to_the_limit_parses() -> None:
    from patchwarden.documents.envelope import parse_text

    assert parse_text("[" * 64 + "]" * 64, "ok.yaml") != []
    assert parse_text("[" * 64 + "]" * 64, "ok.json", json_only=True) != []


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(InputError) as caught:
        load_documents(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "YAML aliases" in message


def test_an_alias_deepening_past_the_limit_and_a_recursive_alias_are_refused() -> None:
    from patchwarden.documents.envelope import parse_text

    deep = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 40 + "*a" + "]" * 40 + "\n"
    with pytest.raises(InputError, match="nested more than 64 levels deep"):
        parse_text(deep, "alias.yaml")
    with pytest.raises(InputError, match="refers to itself"):
        parse_text("a: &a [*a]\n", "loop.yaml")


def test_a_few_aliases_still_work() -> None:
    from patchwarden.documents.envelope import parse_text

    text = "base: &base {Key: PRODUCT, Values: [x]}\nuse: [*base, *base]\nmerged: {<<: *base}\n"
    (doc,) = parse_text(text, "ok.yaml")
    assert doc["use"][1] == {"Key": "PRODUCT", "Values": ["x"]}
    assert doc["merged"]["Key"] == "PRODUCT"


def test_oversized_documents_are_refused(tmp_path: Path) -> None:
    from patchwarden.documents.envelope import MAX_DOCUMENT_BYTES, parse_text

    big = "# " + "x" * MAX_DOCUMENT_BYTES + "\n"
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(InputError) as caught:
        load_documents(path)
    assert str(caught.value).startswith(f"{path}: too large")
    with pytest.raises(InputError, match=r"^x\.json: too large"):
        parse_text(big, "x.json", json_only=True)
