"""Rule / Runbook documents through the envelope, and custom rule type plugins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from patchwarden import rule_plugins
from patchwarden.core.rules import ComplianceType, Evaluation, NodeSnapshot, RuleType, evaluate
from patchwarden.documents import parse_documents
from patchwarden.documents.governance import RuleDocument, RunbookDocument
from patchwarden.errors import InputError

RULE = """
apiVersion: patchwarden/v1
kind: Rule
metadata: {name: patch-group-tag}
spec:
  Type: required-tags
  Parameters: {TagKeys: [Patch Group]}
  Remediation:
    TargetId: tag-it
    Parameters: {NodeId: {ResourceValue: {Value: RESOURCE_ID}}}
    Automatic: true
"""

RUNBOOK = """
apiVersion: patchwarden/v1
kind: Runbook
metadata: {name: tag-it}
spec:
  parameters: {NodeId: {type: String}}
  mainSteps:
    - {name: tag, action: addTags, inputs: {NodeId: "{{NodeId}}", Tags: {Patch Group: default}}}
"""


def test_rule_document_with_remediation() -> None:
    (doc,) = parse_documents(RULE, "rule.yaml")
    assert isinstance(doc, RuleDocument)
    assert doc.rule.type == "required-tags" and doc.remediation is not None
    assert doc.remediation.rule == "patch-group-tag" and doc.remediation.automatic
    assert doc.to_json()["spec"]["Type"] == "required-tags"


def test_runbook_document() -> None:
    (doc,) = parse_documents(RUNBOOK, "book.yaml")
    assert isinstance(doc, RunbookDocument) and doc.runbook.steps[0].action == "addTags"


def test_errors_name_file_and_field() -> None:
    bad = RULE.replace("TagKeys: [Patch Group]", "TagKeys: 7")
    with pytest.raises(InputError, match=r"^rule\.yaml: spec\.Parameters\.TagKeys: must be a list"):
        parse_documents(bad, "rule.yaml")
    bad = RUNBOOK.replace("addTags", "format")
    with pytest.raises(InputError, match=r"book\.yaml: spec\.mainSteps\[0\]\.action"):
        parse_documents(bad, "book.yaml")


def test_custom_rule_type_via_plugin_registry() -> None:
    def evaluate_ntp(node: NodeSnapshot, params: object, now: datetime) -> Evaluation:
        ok = node.tags.get("ntp") == "yes"
        return Evaluation(ComplianceType.COMPLIANT if ok else ComplianceType.NON_COMPLIANT)

    custom = RuleType("ntp-configured", "NTP is configured", (), evaluate_ntp)
    text = RULE.replace("required-tags", "ntp-configured").split("  Parameters")[0]
    with pytest.raises(InputError, match=r"spec\.Type: must be one of"):
        parse_documents(text, "ntp.yaml")
    try:
        registry = rule_plugins.load_custom_rule_types([("ntp-configured", custom)])
        (doc,) = parse_documents(text, "ntp.yaml")
        assert isinstance(doc, RuleDocument)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        verdict = evaluate(doc.rule, NodeSnapshot("n", tags={"ntp": "yes"}), now, registry)
        assert verdict.compliance is ComplianceType.COMPLIANT
    finally:
        rule_plugins.load_custom_rule_types()
    assert "ntp-configured" not in rule_plugins.active()
