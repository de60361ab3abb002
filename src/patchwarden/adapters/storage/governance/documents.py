"""Stored governance documents: the :class:`~patchwarden.pipeline.governance.ports.RuleCatalog`
and :class:`~patchwarden.pipeline.governance.ports.DocumentStore` over the rule, runbook,
remediation configuration, conformance pack and settings tables."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage.governance_tables import (
    ConformancePackRow,
    GovernanceSetting,
    RemediationConfigRow,
    RemediationStateRow,
    ResourceComplianceRow,
    RuleRow,
    RunbookRow,
)
from patchwarden.core.runbook.destinations import Destinations
from patchwarden.pipeline.governance.records import StoredRule, StoredRunbook

SHELL_SETTING = "RunShellScriptEnabled"
DESTINATIONS_SETTING = "WebhookDestinations"
"""Key of the webhook destinations in ``gov_settings`` (a JSON value: no migration)."""


def _rule(row: RuleRow) -> StoredRule:
    return StoredRule(row.name, row.document["spec"], row.pack, row.last_periodic_at)


def _runbook(row: RunbookRow) -> StoredRunbook:
    return StoredRunbook(row.name, row.document, row.pack)


class SqlDocuments:
    """Rules, runbooks, remediation configurations, packs and settings of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reads -----------------------------------------------------------------------------

    def rules(self) -> list[StoredRule]:
        """Every stored rule, by name."""
        return [_rule(row) for row in self.session.scalars(select(RuleRow).order_by(RuleRow.name))]

    def rule(self, name: str) -> StoredRule | None:
        """A stored rule."""
        row = self.session.get(RuleRow, name)
        return _rule(row) if row else None

    def runbook(self, name: str) -> StoredRunbook | None:
        """A stored runbook."""
        row = self.session.get(RunbookRow, name)
        return _runbook(row) if row else None

    def remediation(self, rule: str) -> Mapping[str, Any] | None:
        """A rule's remediation configuration, as given."""
        row = self.session.get(RemediationConfigRow, rule)
        return row.config if row else None

    def shell_enabled(self) -> bool:
        """Whether an admin enabled RunShellScript in runbooks."""
        row = self.session.get(GovernanceSetting, SHELL_SETTING)
        return bool(row and row.value.get("enabled"))

    def destinations(self) -> Destinations:
        """The webhook destinations an admin configured."""
        row = self.session.get(GovernanceSetting, DESTINATIONS_SETTING)
        return Destinations.from_json(row.value if row else None)

    def pack_exists(self, name: str) -> bool:
        """Whether a pack of that name is deployed."""
        return self.session.get(ConformancePackRow, name) is not None

    def pack_rules(self, pack: str) -> list[str]:
        """Names of the rules ``pack`` owns."""
        return list(self.session.scalars(select(RuleRow.name).where(RuleRow.pack == pack)))

    # -- writes ----------------------------------------------------------------------------

    def mark_periodic(self, rule: str, at: datetime) -> None:
        """Remember when a periodic rule last ran."""
        row = self.session.get(RuleRow, rule)
        if row is not None:
            row.last_periodic_at = at

    def save_rule(
        self, name: str, rule_type: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Create or replace a rule; drops its remediation configuration."""
        row = self.session.get(RuleRow, name)
        if row is None:
            row = RuleRow(name=name, pack=pack, created_at=at, last_periodic_at=None)
            self.session.add(row)
        row.type, row.document, row.modified_at = rule_type, dict(document), at
        self.session.execute(delete(RemediationConfigRow).where(RemediationConfigRow.rule == name))
        self.session.flush()

    def save_remediation(
        self, rule: str, runbook: str, config: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Store the remediation configuration of ``rule``."""
        self.session.merge(
            RemediationConfigRow(
                rule=rule, runbook=runbook, config=dict(config), pack=pack, modified_at=at
            )
        )
        self.session.flush()

    def save_runbook(
        self, name: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Create or replace a runbook."""
        row = self.session.get(RunbookRow, name)
        if row is None:
            row = RunbookRow(name=name, pack=pack, created_at=at)
            self.session.add(row)
        row.document, row.modified_at = dict(document), at
        self.session.flush()

    def delete_rule(self, name: str) -> None:
        """A rule with its remediation, states and latest results (history stays)."""
        for table in (RemediationConfigRow, RemediationStateRow, ResourceComplianceRow):
            self.session.execute(delete(table).where(table.rule == name))
        row = self.session.get(RuleRow, name)
        if row is not None:
            self.session.delete(row)

    def delete_runbooks(self, pack: str, keep: Collection[str] = ()) -> None:
        """The runbooks ``pack`` owns, but those in ``keep``."""
        query = delete(RunbookRow).where(RunbookRow.pack == pack)
        if keep:
            query = query.where(RunbookRow.name.not_in(list(keep)))
        self.session.execute(query)

    def save_pack(
        self,
        name: str,
        document: Mapping[str, Any],
        parameters: Mapping[str, object],
        at: datetime,
    ) -> None:
        """Create or replace a pack's own record."""
        row = self.session.get(ConformancePackRow, name)
        if row is None:
            row = ConformancePackRow(name=name, status="CREATE_COMPLETE", created_at=at)
            self.session.add(row)
        row.document, row.parameters, row.modified_at = dict(document), dict(parameters), at
        self.session.flush()

    def delete_pack(self, name: str) -> None:
        """A pack's own record."""
        row = self.session.get(ConformancePackRow, name)
        if row is not None:
            self.session.delete(row)

    def set_shell(self, enabled: bool, actor: str, at: datetime) -> None:
        """Enable or disable RunShellScript in runbooks."""
        self.session.merge(
            GovernanceSetting(
                key=SHELL_SETTING, value={"enabled": enabled}, modified_at=at, modified_by=actor
            )
        )

    def set_destinations(self, destinations: Destinations, actor: str, at: datetime) -> None:
        """Replace the webhook destinations and their switches."""
        self.session.merge(
            GovernanceSetting(
                key=DESTINATIONS_SETTING,
                value=destinations.to_json(),
                modified_at=at,
                modified_by=actor,
            )
        )
