"""The narrow ports the governance use cases talk to.  Storage adapters implement the
repositories; the server implements :class:`CommandSender` and :class:`AuditLog` over its
own machinery and :class:`Notifier` over HTTP.  Nothing here opens a transaction: the
caller owns it (:class:`~patchwarden.pipeline.governance.context.UnitOfWork`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from patchwarden.core.remediation import Phase, RecordException, RemediationState
from patchwarden.core.rules import Evaluation, NodeSnapshot, ResourceSnapshot
from patchwarden.core.runbook import Execution
from patchwarden.core.runbook.destinations import Destinations, WebhookTarget
from patchwarden.pipeline.governance.records import (
    CommandOutcome,
    CommandRequest,
    Delivery,
    LatestResult,
    RemediationRun,
    SentCommand,
    StoredExecution,
    StoredRule,
    StoredRunbook,
    Tracked,
)
from patchwarden.ports import AuditLog as AuditLog  # one definition, re-exported


class RuleCatalog(Protocol):
    """The stored rules, runbooks and remediation configurations, as read by the use cases."""

    def rules(self) -> list[StoredRule]:
        """Every stored rule, by name."""
        ...

    def runbook(self, name: str) -> StoredRunbook | None:
        """A stored runbook."""
        ...

    def remediation(self, rule: str) -> Mapping[str, Any] | None:
        """A rule's remediation configuration (AWS field names, as given)."""
        ...

    def shell_enabled(self) -> bool:
        """Whether an admin enabled RunShellScript in runbooks."""
        ...

    def destinations(self) -> Destinations:
        """The webhook destinations an admin configured."""
        ...

    def mark_periodic(self, rule: str, at: datetime) -> None:
        """Remember when a periodic rule last ran."""
        ...


class DocumentStore(Protocol):
    """Writes of governance documents (a rule's remediation is stored with the rule)."""

    def rule(self, name: str) -> StoredRule | None:
        """A stored rule."""
        ...

    def runbook(self, name: str) -> StoredRunbook | None:
        """A stored runbook."""
        ...

    def save_rule(
        self, name: str, rule_type: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Create or replace a rule; drops its remediation configuration."""
        ...

    def save_remediation(
        self, rule: str, runbook: str, config: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Store the remediation configuration of ``rule``."""
        ...

    def save_runbook(
        self, name: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        """Create or replace a runbook."""
        ...

    def delete_rule(self, name: str) -> None:
        """A rule with its remediation, states and latest results (history stays)."""
        ...

    def pack_rules(self, pack: str) -> list[str]:
        """Names of the rules ``pack`` owns."""
        ...

    def delete_runbooks(self, pack: str, keep: Collection[str] = ()) -> None:
        """The runbooks ``pack`` owns, but those in ``keep``."""
        ...

    def pack_exists(self, name: str) -> bool:
        """Whether a pack of that name is deployed."""
        ...

    def save_pack(
        self,
        name: str,
        document: Mapping[str, Any],
        parameters: Mapping[str, object],
        at: datetime,
    ) -> None:
        """Create or replace a pack's own record."""
        ...

    def delete_pack(self, name: str) -> None:
        """A pack's own record."""
        ...

    def set_shell(self, enabled: bool, actor: str, at: datetime) -> None:
        """Enable or disable RunShellScript in runbooks."""
        ...

    def destinations(self) -> Destinations:
        """The webhook destinations an admin configured."""
        ...

    def set_destinations(self, destinations: Destinations, actor: str, at: datetime) -> None:
        """Replace the webhook destinations and their switches."""
        ...


class ResultStore(Protocol):
    """Evaluations (every one kept) and the latest one per (rule, resource)."""

    def record(
        self, rule: str, resource_id: str, verdict: Evaluation, trigger: str, at: datetime
    ) -> None:
        """Keep one evaluation and make it the latest."""
        ...

    def latest(self, rule: str, resource_id: str) -> LatestResult | None:
        """The latest evaluation of a (rule, resource)."""
        ...

    def verdicts(self, rule: str) -> int:
        """Resources whose latest result of ``rule`` is COMPLIANT or NON_COMPLIANT."""
        ...

    def forget(self, resource_ids: Collection[str]) -> None:
        """Drop the latest results of resources that are gone (every evaluation stays)."""
        ...


class ResourceStore(Protocol):
    """Imported resources (what each source's latest import described)."""

    def of_source(self, source: str) -> dict[str, ResourceSnapshot]:
        """Resource id → the stored resource, of one source."""
        ...

    def put(self, resource: ResourceSnapshot) -> None:
        """Create or replace one resource."""
        ...

    def delete(self, resource_ids: Collection[str]) -> None:
        """Remove resources."""
        ...

    def all(self) -> list[ResourceSnapshot]:
        """Every imported resource, by id."""
        ...

    def sources(self) -> dict[str, tuple[int, datetime]]:
        """Source → how many resources it holds and when it was last imported."""
        ...


class NodeDirectory(Protocol):
    """Managed nodes as the rules see them."""

    def active(self) -> list[str]:
        """Ids of registered (not deregistered) nodes, sorted."""
        ...

    def is_active(self, node_id: str) -> bool:
        """Whether ``node_id`` is registered and not deregistered."""
        ...

    def exists(self, node_id: str) -> bool:
        """Whether ``node_id`` was ever registered."""
        ...

    def snapshot(self, node_id: str) -> NodeSnapshot | None:
        """What the rules see of the node (``None``: no such node)."""
        ...


class TagEditor(Protocol):
    """A node's tags."""

    def tags(self, node_id: str) -> Mapping[str, str] | None:
        """The tags of an active node (``None``: not an active managed node)."""
        ...

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        """Replace the tags of an active node."""
        ...


class RemediationStore(Protocol):
    """The remediation state per (rule, resource), its exceptions and its runs."""

    def state(self, rule: str, resource_id: str) -> RemediationState | None:
        """The stored state (``None``: never tracked), held against concurrent changes until
        the transaction ends (it is read to be changed)."""
        ...

    def save(self, rule: str, resource_id: str, state: RemediationState, at: datetime) -> None:
        """Create or replace the state."""
        ...

    def claim(self, phases: Collection[Phase]) -> list[Tracked]:
        """States in ``phases``, oldest change first, with every state of their resources
        locked for this transaction; a resource another transaction holds a state of (a
        replica's tick, a node's report) is skipped, not waited for."""
        ...

    def count(self, rule: str, phases: Collection[Phase]) -> int:
        """(rule, resource) pairs of ``rule`` in ``phases``."""
        ...

    def has_exception(self, rule: str, resource_id: str) -> bool:
        """Whether a RemediationException is recorded."""
        ...

    def put_exception(
        self, rule: str, resource_id: str, exception: RecordException, actor: str, at: datetime
    ) -> None:
        """Record (or renew) a RemediationException."""
        ...

    def drop_exception(self, rule: str, resource_id: str) -> None:
        """Delete a RemediationException if there is one."""
        ...

    def add_run(
        self, rule: str, resource_id: str, manual: bool, actor: str, at: datetime
    ) -> RemediationRun:
        """A new run, IN_PROGRESS."""
        ...

    def link_run(self, run_id: str, execution_id: str) -> None:
        """The runbook execution of a run."""
        ...

    def end_run(self, run_id: str, status: str, at: datetime, message: str | None = None) -> None:
        """A run ended (SUCCEEDED or FAILED)."""
        ...

    def run(self, run_id: str) -> RemediationRun | None:
        """A run by id."""
        ...

    def run_of(self, execution_id: str) -> RemediationRun | None:
        """The run a runbook execution belongs to."""
        ...

    def runs_of(self, execution_ids: Collection[str]) -> dict[str, RemediationRun]:
        """The runs these runbook executions belong to, by execution id (in one read);
        an execution of no run is absent."""
        ...


class ExecutionStore(Protocol):
    """Runbook executions and their steps."""

    def create(
        self,
        runbook: StoredRunbook,
        steps: Sequence[tuple[str, str]],
        execution: Execution,
        actor: str,
        at: datetime,
    ) -> str:
        """A new execution with its (step, action) rows; its id."""
        ...

    def get(self, execution_id: str, *, lock: bool = False) -> StoredExecution | None:
        """An execution (``lock``: held until the transaction ends, against a concurrent
        tick or delivery advancing it too)."""
        ...

    def save(self, execution_id: str, execution: Execution) -> None:
        """The interpreter state and every step's status (done steps stop waiting)."""
        ...

    def waiting(self, execution_id: str, step: str) -> Mapping[str, Any]:
        """What a step waits for (a command, approvals, compliance, a webhook)."""
        ...

    def set_waiting(self, execution_id: str, step: str, waiting: Mapping[str, Any]) -> None:
        """Remember what a step waits for."""
        ...

    def claim_active(self) -> list[str]:
        """Ids of active executions, locked for this transaction (others' are skipped)."""
        ...


class CommandSender(Protocol):
    """Commands to agents."""

    def send(self, request: CommandRequest, at: datetime) -> SentCommand:
        """Create the command (a PatchwardenError when it cannot be sent)."""
        ...


class CommandResults(Protocol):
    """What became of sent commands."""

    def outcome(self, command_id: str) -> CommandOutcome | None:
        """The command once terminal (``None`` while it runs, or when unknown)."""
        ...


class Notifier(Protocol):
    """Outbound webhooks: called only outside any write transaction.  The implementation
    resolves the target's host and refuses addresses in private ranges (unless the target
    allows them) at the moment it connects: only it knows what it connects to."""

    def send(self, target: WebhookTarget, payload: Mapping[str, object]) -> Delivery:
        """POST ``payload`` as JSON to ``target``; never raises for a failed send."""
        ...
