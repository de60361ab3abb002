"""Managed rule types as pure functions over node snapshots, with an injected ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.rules import (
    RULE_TYPES,
    ComplianceType,
    Evaluation,
    FindingFact,
    NodeSnapshot,
    ParamSpec,
    PatchFact,
    RuleType,
    evaluate,
    parse_rule,
    validate_params,
    with_custom,
)
from patchwarden.core.rules.eol import end_of_life
from patchwarden.errors import InputError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
C, NC = ComplianceType.COMPLIANT, ComplianceType.NON_COMPLIANT
NA, NODATA = ComplianceType.NOT_APPLICABLE, ComplianceType.INSUFFICIENT_DATA


def node(**kw: object) -> NodeSnapshot:
    base: dict[str, object] = {"node_id": "n1", "os_id": "debian", "os_version": "12"}
    base.update(kw)
    return NodeSnapshot(**base)  # type: ignore[arg-type]


def verdict(rule_type: str, snapshot: NodeSnapshot, **params: object) -> Evaluation:
    rule = parse_rule("r", {"Type": rule_type, "Parameters": params}, RULE_TYPES)
    return evaluate(rule, snapshot, NOW)


def test_registry_holds_the_managed_types() -> None:
    assert set(RULE_TYPES) >= {
        "patch-compliance-status",
        "managed-node-online",
        "required-tags",
        "no-active-findings",
        "no-known-exploited-findings",
        "missing-patch-age",
        "baseline-assigned",
        "os-supported",
    }


def test_patch_compliance_status() -> None:
    assert verdict("patch-compliance-status", node()).compliance is NODATA
    assert verdict("patch-compliance-status", node(compliance="COMPLIANT")).compliance is C
    missing = PatchFact("openssl", "MISSING", "LOW")
    bad = node(compliance="NON_COMPLIANT", items=(missing,))
    result = verdict("patch-compliance-status", bad)
    assert result.compliance is NC and "openssl" in result.annotation
    # a minimum severity ignores lower ones
    assert verdict("patch-compliance-status", bad, MinimumSeverity="HIGH").compliance is C
    critical = node(compliance="NON_COMPLIANT", items=(PatchFact("k", "FAILED", "CRITICAL"),))
    assert verdict("patch-compliance-status", critical, MinimumSeverity="HIGH").compliance is NC


def test_managed_node_online() -> None:
    assert verdict("managed-node-online", node()).compliance is NC
    recent = node(last_seen=NOW - timedelta(hours=2))
    assert verdict("managed-node-online", recent, MaxHoursSinceCheckIn=3).compliance is C
    assert verdict("managed-node-online", recent, MaxHoursSinceCheckIn=1).compliance is NC


def test_required_tags_with_allowed_values() -> None:
    tagged = node(tags={"Patch Group": "web", "Env": "prod"})
    assert verdict("required-tags", tagged, TagKeys=["Patch Group"]).compliance is C
    assert verdict("required-tags", node(), TagKeys="Patch Group,Env").compliance is NC
    allowed = {"Env": ["prod", "stage"]}
    assert verdict("required-tags", tagged, TagKeys=["Env"], AllowedValues=allowed).compliance is C
    other = node(tags={"Env": "dev"})
    result = verdict("required-tags", other, TagKeys=["Env"], AllowedValues=allowed)
    assert result.compliance is NC and "dev" in result.annotation


def test_no_active_findings_sla() -> None:
    assert verdict("no-active-findings", node()).compliance is NODATA
    assert verdict("no-active-findings", node(findings=())).compliance is C
    old = FindingFact("CVE-1", "HIGH", fix_since=NOW - timedelta(days=40))
    fresh = FindingFact("CVE-2", "CRITICAL", fix_since=NOW - timedelta(days=3))
    low = FindingFact("CVE-3", "LOW", fix_since=NOW - timedelta(days=400))
    nofix = FindingFact("CVE-4", "CRITICAL", fix_available="NO", fix_since=None)
    suppressed = FindingFact("CVE-5", "CRITICAL", status="SUPPRESSED", fix_since=None)
    result = verdict("no-active-findings", node(findings=(old, fresh, low, nofix, suppressed)))
    assert result.compliance is NC and "CVE-1" in result.annotation
    assert "CVE-2" not in result.annotation
    assert verdict("no-active-findings", node(findings=(fresh,)), MaxDaysWithFix=1).compliance is NC


def test_no_known_exploited_findings() -> None:
    rule = "no-known-exploited-findings"
    assert verdict(rule, node()).compliance is NODATA
    kev = FindingFact("CVE-9", "HIGH", known_exploited=True, first_observed=NOW - timedelta(days=3))
    quiet = FindingFact("CVE-8", "CRITICAL", first_observed=NOW - timedelta(days=90))
    held = FindingFact(
        "CVE-7", "HIGH", status="SUPPRESSED", known_exploited=True, first_observed=None
    )
    result = verdict(rule, node(findings=(kev, quiet, held)))
    assert result.compliance is NC and result.annotation == "1 known-exploited finding(s): CVE-9"
    assert verdict(rule, node(findings=(kev, quiet)), MaxDays=7).compliance is C
    assert verdict(rule, node(findings=(kev,)), MaxDays=3).compliance is NC
    assert verdict(rule, node(findings=(quiet, held))).compliance is C


def test_missing_patch_age() -> None:
    assert verdict("missing-patch-age", node()).compliance is NODATA
    old = PatchFact("a", "MISSING", release_date=NOW - timedelta(days=31))
    young = PatchFact("b", "MISSING", release_date=NOW - timedelta(days=5))
    undated = PatchFact("c", "MISSING")
    snap = node(compliance="NON_COMPLIANT", items=(young, undated))
    assert verdict("missing-patch-age", snap).compliance is C
    snap = node(compliance="NON_COMPLIANT", items=(old, young))
    assert verdict("missing-patch-age", snap, MaxDays=30).compliance is NC
    assert verdict("missing-patch-age", snap, MaxDays=40).compliance is C


def test_baseline_assigned() -> None:
    assert verdict("baseline-assigned", node()).compliance is NC
    grouped = node(patch_group="web", baseline_name="web-baseline", baseline_is_default=False)
    assert verdict("baseline-assigned", grouped).compliance is C
    default = node(patch_group="web", baseline_name="AWS-Debian", baseline_is_default=True)
    assert verdict("baseline-assigned", default).compliance is NC


@pytest.mark.parametrize(
    ("os_id", "version", "expected"),
    [
        ("debian", "12", C),
        ("debian", "10", NC),
        ("ubuntu", "20.04", NC),
        ("ubuntu", "24.04", C),
        ("rocky", "9.4", C),
        ("amzn", "2023", C),
        ("gentoo", "1", NA),
        ("", "", NODATA),
    ],
)
def test_os_supported(os_id: str, version: str, expected: ComplianceType) -> None:
    assert verdict("os-supported", node(os_id=os_id, os_version=version)).compliance is expected


def test_eol_data_keys() -> None:
    assert end_of_life("AlmaLinux", "8.10") is not None
    assert end_of_life("ubuntu", "22.10") is None


def test_scope_and_trigger() -> None:
    spec = {
        "Type": "os-supported",
        "Scope": {"Tags": {"Env": ["prod"]}},
        "Trigger": {"ConfigurationChange": True, "MaximumExecutionFrequency": "Six_Hours"},
    }
    rule = parse_rule("eol", spec, RULE_TYPES)
    assert rule.on_change and rule.period == timedelta(hours=6)
    assert evaluate(rule, node(), NOW).compliance is NA
    assert evaluate(rule, node(tags={"Env": "prod"}), NOW).compliance is C
    periodic = parse_rule("p", {"Type": "os-supported", "Trigger": {"Periodic": True}}, RULE_TYPES)
    assert not periodic.on_change and periodic.frequency == "TwentyFour_Hours"
    assert parse_rule("c", {"Type": "os-supported"}, RULE_TYPES).period is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"Type": "nope"}, "spec.Type: must be one of"),
        ({"Type": "required-tags"}, "spec.Parameters.TagKeys: required parameter is missing"),
        (
            {"Type": "required-tags", "Parameters": {"TagKeys": 3}},
            "spec.Parameters.TagKeys: must be a list",
        ),
        ({"Type": "os-supported", "Parameters": {"X": 1}}, "spec.Parameters.X: unknown parameter"),
        ({"Type": "managed-node-online", "Parameters": {"MaxHoursSinceCheckIn": 0}}, "at least 1"),
        (
            {"Type": "no-active-findings", "Parameters": {"MinimumSeverity": "BAD"}},
            "MinimumSeverity: must be one of",
        ),
        (
            {"Type": "os-supported", "Trigger": {"MaximumExecutionFrequency": "Daily"}},
            "MaximumExecutionFrequency",
        ),
        (
            {"Type": "os-supported", "Scope": {"ResourceTypes": ["Image"]}},
            "spec.Scope.ResourceTypes",
        ),
        ({"Type": "os-supported", "Extra": 1}, "spec.Extra: unknown field"),
    ],
)
def test_bad_rule_specs_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        parse_rule("r", spec, RULE_TYPES)


def test_params_coercion_and_defaults() -> None:
    schema = (ParamSpec("N", "Integer", default=3), ParamSpec("B", "Boolean", default=False))
    assert validate_params(schema, {"N": "7", "B": "true"}) == {"N": 7, "B": True}
    assert validate_params(schema, None) == {"N": 3, "B": False}


def test_custom_rule_types_merge_explicitly() -> None:
    def always(snapshot: NodeSnapshot, params: object, now: datetime) -> Evaluation:
        return Evaluation(C, "fine")

    custom = RuleType("always-ok", "test", (), always)
    registry = with_custom(RULE_TYPES, [("always-ok", custom)])
    rule = parse_rule("x", {"Type": "always-ok"}, registry)
    assert evaluate(rule, node(), NOW, registry).compliance is C
    with pytest.raises(InputError, match="already exists"):
        with_custom(registry, [("always-ok", custom)])
    with pytest.raises(InputError, match="must be a RuleType"):
        with_custom(RULE_TYPES, [("bad", object())])
    assert "always-ok" not in RULE_TYPES


def test_annotation_is_cut_to_256() -> None:
    assert len(Evaluation(C, "x" * 400).annotation) == 256
