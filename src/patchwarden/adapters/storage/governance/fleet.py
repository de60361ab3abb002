"""The fleet as governance sees it: managed nodes and the snapshot the rules judge
(:class:`SqlNodes`), their tags (:class:`SqlTags`) and finished commands
(:class:`SqlCommandResults`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import nodes as node_store
from patchwarden.adapters.storage.findings import node_findings
from patchwarden.adapters.storage.governance.codec import when
from patchwarden.adapters.storage.tables import Command, ComplianceRecord, Invocation, Node
from patchwarden.core.rollout import CommandStatus
from patchwarden.core.rules import FindingFact, NodeSnapshot, PatchFact
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance.records import CommandOutcome

BaselineOf = Callable[[Node], tuple[Mapping[str, Any] | None, str]]
"""A node's baseline document and where it came from (``PatchGroup:NAME``, a default…)."""


def _fact(item: Mapping[str, Any]) -> PatchFact:
    released = item.get("release_date")
    try:
        released_at = when(released) if released else None
    except ValueError:
        released_at = None
    return PatchFact(
        name=str(item.get("name", "")),
        state=str(item.get("state", "INSTALLED")),
        severity=str(item.get("severity") or "UNSPECIFIED"),
        classification=str(item.get("classification") or ""),
        release_date=released_at,
    )


class SqlNodes:
    """Managed nodes of one session; ``baseline_of`` resolves a node's patch baseline."""

    def __init__(self, session: Session, baseline_of: BaselineOf) -> None:
        self.session = session
        self.baseline_of = baseline_of

    def active(self) -> list[str]:
        """Ids of registered (not deregistered) nodes, sorted."""
        return [node.id for node in node_store.active_nodes(self.session)]

    def is_active(self, node_id: str) -> bool:
        """Whether ``node_id`` is registered and not deregistered."""
        node = self.session.get(Node, node_id)
        return node is not None and node.deregistered_at is None

    def exists(self, node_id: str) -> bool:
        """Whether ``node_id`` was ever registered."""
        return self.session.get(Node, node_id) is not None

    def snapshot(self, node_id: str) -> NodeSnapshot | None:
        """What the rules see of the node.  ``findings`` are those the server's assessment
        of its inventory stored (``None`` while it was never assessed: ``no-active-findings``
        answers INSUFFICIENT_DATA); a fix counts as available since the finding was first
        observed (the server does not know when the fix was published)."""
        node = self.session.get(Node, node_id)
        if node is None:
            return None
        record = self.session.get(ComplianceRecord, node.id)
        try:
            document, source = self.baseline_of(node)
        except PatchwardenError:  # an OS without any baseline: the default (none) applies
            document, source = None, "PredefinedDefault"
        baseline_name = str(((document or {}).get("metadata") or {}).get("name", ""))
        items = record.items if record else []
        return NodeSnapshot(
            node_id=node.id,
            tags=dict(node.tags or {}),
            os_id=node.os_id,
            os_version=node.os_version,
            product=node.product,
            patch_group=node.patch_group or "",
            last_seen=node.last_seen_at,
            compliance=record.compliance if record else None,
            items=tuple(_fact(item) for item in items if isinstance(item, dict)),
            findings=self._findings(node.id),
            baseline_name=baseline_name,
            baseline_is_default=not source.startswith("PatchGroup:"),
            name=node.name or node.hostname or "",
        )

    def _findings(self, node_id: str) -> tuple[FindingFact, ...] | None:
        found = node_findings(self.session, node_id)
        if found is None:
            return None
        return tuple(
            FindingFact(
                vulnerability_id=f.vulnerability_id,
                severity=f.severity.value,
                status=f.status.value,
                fix_available=f.fix_available.value,
                fix_since=f.first_observed,
                known_exploited=f.known_exploited,
                first_observed=f.first_observed,
            )
            for f in found
        )


class SqlTags:
    """Node tags of one session (the patch group follows the tags)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def tags(self, node_id: str) -> Mapping[str, str] | None:
        """The tags of an active node (``None``: not an active managed node)."""
        node = self.session.get(Node, node_id)
        if node is None or node.deregistered_at is not None:
            return None
        return dict(node.tags or {})

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        """Replace the tags of a node."""
        node = self.session.get(Node, node_id)
        assert node is not None, node_id
        node_store.set_tags(self.session, node, tags)
        self.session.flush()


class SqlCommandResults:
    """Finished commands of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def outcome(self, command_id: str) -> CommandOutcome | None:
        """The command once terminal, with its invocation's output."""
        command = self.session.get(Command, command_id)
        if command is None or not CommandStatus(command.status).terminal:
            return None
        output = self.session.scalar(
            select(Invocation.output).where(Invocation.command_id == command.id)
        )
        return CommandOutcome(command.id, command.status, output or "")
