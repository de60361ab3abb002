"""``patchwarden apply`` for governance documents and pack deployment: store them, audit
them and evaluate new or changed rules once on every active node (as Config does when a
rule is created), and say what automatic remediations they configure (one line each)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from patchwarden.core.remediation.describe import automatic_action
from patchwarden.documents.envelope import LoadedDocument
from patchwarden.documents.governance import (
    ConformancePackDocument,
    RuleDocument,
    RunbookDocument,
)
from patchwarden.pipeline.governance import catalog, documents, evaluation
from patchwarden.pipeline.governance.context import Governance

KINDS = ("Rule", "Runbook", "ConformancePack")


@dataclass(frozen=True)
class Applied:
    """One governance document stored."""

    kind: str
    name: str
    created: bool
    automatic_actions: tuple[str, ...] = ()
    """What the document makes the server do on its own, and when (one line each)."""

    @property
    def result(self) -> str:
        """``created`` or ``configured`` (as ``kubectl apply`` says)."""
        return "created" if self.created else "configured"


def deploy(
    gov: Governance,
    doc: ConformancePackDocument,
    parameters: Mapping[str, object],
    at: datetime,
) -> bool:
    """Deploy (or update) a pack as a unit and evaluate its rules once; True when created."""
    created = documents.deploy_pack(gov.documents, doc, parameters, at)
    evaluation.created(gov, {rule.name for rule in doc.pack.rules}, at)
    return created


def apply_document(
    gov: Governance, actor: str, doc: LoadedDocument, at: datetime
) -> Applied | None:
    """Store a governance document and audit it; ``None`` when ``doc`` is of another kind."""
    if isinstance(doc, RuleDocument):
        created = documents.put_rule(gov.documents, doc.name, dict(doc.spec), at)
        evaluation.created(gov, {doc.name}, at)
        noun, rules = "rule", [doc.name]
    elif isinstance(doc, RunbookDocument):
        created = documents.put_runbook(gov.documents, doc.name, dict(doc.spec), at)
        noun, rules = "runbook", _rules_running(gov, doc.name)
    elif isinstance(doc, ConformancePackDocument):
        created = deploy(gov, doc, {}, at)
        noun, rules = "pack", [rule.name for rule in doc.pack.rules]
    else:
        return None
    gov.audit.record(actor, f"{noun}.{'create' if created else 'update'}", doc.name, at)
    return Applied(doc.kind, doc.name, created, automatic_actions(gov, rules))


def automatic_actions(gov: Governance, rules: Iterable[str]) -> tuple[str, ...]:
    """What the automatic remediations of ``rules`` will do, and when (one line each)."""
    lines = []
    for rule in sorted(set(rules)):
        config = catalog.remediation(gov.catalog, rule)
        if config is None:
            continue
        line = automatic_action(config, catalog.runbook(gov.catalog, config.runbook))
        if line is not None:
            lines.append(line)
    return tuple(lines)


def _rules_running(gov: Governance, runbook: str) -> list[str]:
    """Rules whose remediation runs ``runbook`` (a changed runbook changes what they do)."""
    return [
        stored.name
        for stored in gov.catalog.rules()
        if (gov.catalog.remediation(stored.name) or {}).get("TargetId") == runbook
    ]
