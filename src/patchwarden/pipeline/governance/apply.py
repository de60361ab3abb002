"""``patchwarden apply`` for governance documents and pack deployment: store them, audit
them and evaluate new or changed rules once on every active node (as Config does when a
rule is created)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from patchwarden.documents.envelope import LoadedDocument
from patchwarden.documents.governance import (
    ConformancePackDocument,
    RuleDocument,
    RunbookDocument,
)
from patchwarden.pipeline.governance import documents, evaluation
from patchwarden.pipeline.governance.context import Governance

KINDS = ("Rule", "Runbook", "ConformancePack")


@dataclass(frozen=True)
class Applied:
    """One governance document stored."""

    kind: str
    name: str
    created: bool

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
        noun = "rule"
    elif isinstance(doc, RunbookDocument):
        created = documents.put_runbook(gov.documents, doc.name, dict(doc.spec), at)
        noun = "runbook"
    elif isinstance(doc, ConformancePackDocument):
        created = deploy(gov, doc, {}, at)
        noun = "pack"
    else:
        return None
    gov.audit.record(actor, f"{noun}.{'create' if created else 'update'}", doc.name, at)
    return Applied(doc.kind, doc.name, created)
