"""Evaluations: the :class:`~patchwarden.pipeline.governance.ports.ResultStore` over
``gov_evaluations`` (every evaluation) and ``gov_resource_compliance`` (the latest)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import EvaluationRow, ResourceComplianceRow
from patchwarden.core.rules import ComplianceType, Evaluation
from patchwarden.pipeline.governance.records import LatestResult

VERDICTS = (ComplianceType.COMPLIANT.value, ComplianceType.NON_COMPLIANT.value)


class SqlResults:
    """Evaluation results of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self, rule: str, resource_id: str, verdict: Evaluation, trigger: str, at: datetime
    ) -> None:
        """Keep one evaluation and make it the latest (``changed_at`` moves only when the
        compliance changes)."""
        self.session.add(
            EvaluationRow(
                rule=rule,
                resource_id=resource_id,
                compliance=verdict.compliance.value,
                annotation=verdict.annotation,
                trigger=trigger,
                evaluated_at=at,
            )
        )
        latest = self.session.get(ResourceComplianceRow, (rule, resource_id))
        if latest is None:
            latest = ResourceComplianceRow(rule=rule, resource_id=resource_id, changed_at=at)
            self.session.add(latest)
        elif latest.compliance != verdict.compliance.value:
            latest.changed_at = at
        latest.compliance = verdict.compliance.value
        latest.annotation = verdict.annotation
        latest.evaluated_at = at
        self.session.flush()

    def latest(self, rule: str, resource_id: str) -> LatestResult | None:
        """The latest evaluation of a (rule, resource)."""
        row = self.session.get(ResourceComplianceRow, (rule, resource_id))
        return LatestResult(row.compliance, row.evaluated_at) if row else None

    def verdicts(self, rule: str) -> int:
        """Resources whose latest result of ``rule`` is COMPLIANT or NON_COMPLIANT."""
        count = self.session.scalar(
            select(func.count())
            .select_from(ResourceComplianceRow)
            .where(
                ResourceComplianceRow.rule == rule, ResourceComplianceRow.compliance.in_(VERDICTS)
            )
        )
        return int(count or 0)

    def forget(self, resource_ids: Collection[str]) -> None:
        """Drop the latest results of resources that are gone (every evaluation stays)."""
        if resource_ids:
            self.session.execute(
                delete(ResourceComplianceRow).where(
                    ResourceComplianceRow.resource_id.in_(list(resource_ids))
                )
            )
