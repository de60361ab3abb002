"""Conformance packs: parsing with parameters, pack compliance and the score (§8.3)."""

from __future__ import annotations

import pytest

from patchwarden.core.conformance import parse_pack, rule_compliance, score
from patchwarden.core.rules import RULE_TYPES, ComplianceType
from patchwarden.errors import InputError

C, NC = ComplianceType.COMPLIANT, ComplianceType.NON_COMPLIANT
NA, NODATA = ComplianceType.NOT_APPLICABLE, ComplianceType.INSUFFICIENT_DATA

SPEC = {
    "Parameters": {"MaxDays": {"Type": "Integer", "Default": 30}},
    "Rules": [
        {"Name": "age", "Type": "missing-patch-age", "Parameters": {"MaxDays": "{{MaxDays}}"}},
        {"Name": "tags", "Type": "required-tags", "Parameters": {"TagKeys": ["Patch Group"]}},
    ],
    "Remediations": [{"ConfigRuleName": "tags", "TargetId": "tag-it", "Automatic": True}],
    "Runbooks": {
        "tag-it": {
            "parameters": {"NodeId": {"type": "String"}},
            "mainSteps": [
                {
                    "name": "t",
                    "action": "addTags",
                    "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Patch Group": "default"}},
                }
            ],
        }
    },
}


def test_parse_pack_substitutes_parameters() -> None:
    pack = parse_pack("essentials", SPEC, RULE_TYPES)
    assert [r.name for r in pack.rules] == ["age", "tags"]
    assert pack.rules[0].parameters["MaxDays"] == 30
    assert parse_pack("e", SPEC, RULE_TYPES, {"MaxDays": "7"}).rules[0].parameters["MaxDays"] == 7
    assert pack.remediations[0].runbook == "tag-it" and pack.runbooks[0].name == "tag-it"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"Rules": []}, r"spec\.Rules: must hold 1 to 130"),
        ({"Remediations": [{"ConfigRuleName": "x", "TargetId": "b"}]}, "no rule 'x' in this pack"),
        ({"Rules": [{"Name": "a", "Type": "required-tags"}]}, r"Rules\[0\]\.Parameters\.TagKeys"),
        (
            {"Rules": [{"Name": "a", "Type": "os-supported", "Parameters": {"X": "{{Nope}}"}}]},
            "not a pack parameter",
        ),
        (
            {"Parameters": {"MaxDays": {"Type": "Integer", "Default": "many"}}},
            r"Parameters\.MaxDays",
        ),
    ],
)
def test_bad_packs_name_the_field(patch: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_pack("p", {**SPEC, **patch}, RULE_TYPES)


def test_unknown_deploy_parameter() -> None:
    with pytest.raises(InputError, match="not a parameter of this pack"):
        parse_pack("p", SPEC, RULE_TYPES, {"Other": 1})


def test_rule_compliance() -> None:
    assert rule_compliance({"a": C, "b": NC}) is NC
    assert rule_compliance({"a": C, "b": NA}) is C
    assert rule_compliance({"a": NA}) is NODATA
    assert rule_compliance({}) is NODATA


def test_score_counts_pairs_with_a_verdict() -> None:
    result = score({"r1": {"n1": C, "n2": NC, "n3": NA}, "r2": {"n1": C, "n2": C}, "r3": {}})
    assert (result.compliant, result.non_compliant) == (3, 1)
    assert result.score == 75.0
    assert result.compliance is NC
    assert result.rules == {"r1": NC, "r2": C, "r3": NODATA}


def test_score_compliant_ignores_rules_without_data() -> None:
    result = score({"r1": {"n1": C}, "r2": {"n1": NODATA}})
    assert result.compliance is C and result.score == 100.0


def test_pack_without_results_is_insufficient_data() -> None:
    result = score({"r1": {}, "r2": {"n1": NA}})
    assert result.compliance is NODATA and result.score is None


def test_shipped_packs_load() -> None:
    from pathlib import Path

    from patchwarden.documents import load_documents
    from patchwarden.documents.governance import ConformancePackDocument

    folder = Path(__file__).parents[2] / "examples" / "conformance-packs"
    names = set()
    for path in sorted(folder.glob("*.yaml")):
        for document in load_documents(path):
            assert isinstance(document, ConformancePackDocument)
            runbooks = {book.name for book in document.pack.runbooks}
            assert {config.runbook for config in document.pack.remediations} <= runbooks
            names.add(document.name)
    assert names == {"patching-essentials", "vulnerability-sla"}
    (essentials,) = load_documents(folder / "patching-essentials.yaml")
    assert isinstance(essentials, ConformancePackDocument)
    tagging = essentials.pack.remediations[1]
    assert tagging.runbook_parameters("n1") == {"NodeId": "n1", "PatchGroup": "default"}
