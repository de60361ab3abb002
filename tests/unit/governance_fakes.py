"""In-memory fakes of the governance ports (no database): one :class:`World` holds the
state, each fake implements one port over it, and :class:`FakeUnitOfWork` gives the
transactions a log (begin / commit / rollback, restoring the world on rollback)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from patchwarden.core.remediation import Phase, RecordException, RemediationState
from patchwarden.core.rules import Evaluation, NodeSnapshot
from patchwarden.core.runbook import Execution
from patchwarden.core.runbook.destinations import Destinations, WebhookTarget
from patchwarden.pipeline.governance.context import Governance, Outbox
from patchwarden.pipeline.governance.records import (
    ACTIVE,
    CommandOutcome,
    CommandRequest,
    Delivery,
    LatestResult,
    Notification,
    RemediationRun,
    SentCommand,
    StoredExecution,
    StoredRule,
    StoredRunbook,
    Tracked,
)

T = TypeVar("T")
Key = tuple[str, str]


@dataclass
class World:
    """Everything the fakes store."""

    rules: dict[str, StoredRule] = field(default_factory=dict)
    rule_types: dict[str, str] = field(default_factory=dict)
    runbooks: dict[str, StoredRunbook] = field(default_factory=dict)
    remediations: dict[str, dict[str, Any]] = field(default_factory=dict)
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)
    shell: bool = False
    destinations: Destinations = field(
        default_factory=lambda: Destinations({"ops-chat": "https://hooks.example/runbook"})
    )
    evaluations: list[tuple[str, str, str, str, datetime]] = field(default_factory=list)
    latest: dict[Key, LatestResult] = field(default_factory=dict)
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    """node id → tags (active nodes)."""
    gone: set[str] = field(default_factory=set)
    """Deregistered nodes."""
    states: dict[Key, tuple[RemediationState, datetime]] = field(default_factory=dict)
    locked: list[Key] = field(default_factory=list)
    """Every (rule, resource) whose state was read, in order (the SQL store locks each)."""
    exceptions: dict[Key, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, CommandOutcome | None] = field(default_factory=dict)
    sent: list[CommandRequest] = field(default_factory=list)
    audit: list[tuple[str, str, str]] = field(default_factory=list)
    ids: int = 0

    def new_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}-{self.ids}"


class FakeDocuments:
    """RuleCatalog and DocumentStore."""

    def __init__(self, world: World) -> None:
        self.w = world

    def rules(self) -> list[StoredRule]:
        return [self.w.rules[name] for name in sorted(self.w.rules)]

    def rule(self, name: str) -> StoredRule | None:
        return self.w.rules.get(name)

    def runbook(self, name: str) -> StoredRunbook | None:
        return self.w.runbooks.get(name)

    def remediation(self, rule: str) -> Mapping[str, Any] | None:
        return self.w.remediations.get(rule)

    def shell_enabled(self) -> bool:
        return self.w.shell

    def destinations(self) -> Destinations:
        return self.w.destinations

    def set_destinations(self, destinations: Destinations, actor: str, at: datetime) -> None:
        self.w.destinations = destinations

    def mark_periodic(self, rule: str, at: datetime) -> None:
        self.w.rules[rule] = replace(self.w.rules[rule], last_periodic_at=at)

    def save_rule(
        self, name: str, rule_type: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        old = self.w.rules.get(name)
        last = old.last_periodic_at if old else None
        self.w.rules[name] = StoredRule(name, document["spec"], pack, last)
        self.w.rule_types[name] = rule_type
        self.w.remediations.pop(name, None)

    def save_remediation(
        self, rule: str, runbook: str, config: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        self.w.remediations[rule] = dict(config)

    def save_runbook(
        self, name: str, document: Mapping[str, Any], pack: str | None, at: datetime
    ) -> None:
        self.w.runbooks[name] = StoredRunbook(name, dict(document), pack)

    def delete_rule(self, name: str) -> None:
        self.w.rules.pop(name, None)
        self.w.remediations.pop(name, None)
        for table in (self.w.states, self.w.latest):
            for key in [k for k in table if k[0] == name]:
                del table[key]

    def pack_rules(self, pack: str) -> list[str]:
        return [r.name for r in self.w.rules.values() if r.pack == pack]

    def delete_runbooks(self, pack: str, keep: Collection[str] = ()) -> None:
        for name in [n for n, b in self.w.runbooks.items() if b.pack == pack and n not in keep]:
            del self.w.runbooks[name]

    def pack_exists(self, name: str) -> bool:
        return name in self.w.packs

    def save_pack(
        self, name: str, document: Mapping[str, Any], parameters: Mapping[str, object], at: datetime
    ) -> None:
        self.w.packs[name] = {"document": document, "parameters": dict(parameters)}

    def delete_pack(self, name: str) -> None:
        self.w.packs.pop(name, None)

    def set_shell(self, enabled: bool, actor: str, at: datetime) -> None:
        self.w.shell = enabled


class FakeResults:
    def __init__(self, world: World) -> None:
        self.w = world

    def record(
        self, rule: str, resource_id: str, verdict: Evaluation, trigger: str, at: datetime
    ) -> None:
        value = verdict.compliance.value
        self.w.evaluations.append((rule, resource_id, value, trigger, at))
        self.w.latest[(rule, resource_id)] = LatestResult(value, at)

    def latest(self, rule: str, resource_id: str) -> LatestResult | None:
        return self.w.latest.get((rule, resource_id))

    def verdicts(self, rule: str) -> int:
        return sum(
            1
            for (r, _), x in self.w.latest.items()
            if r == rule and x.compliance in ("COMPLIANT", "NON_COMPLIANT")
        )

    def forget(self, resource_ids: Collection[str]) -> None:
        for key in [k for k in self.w.latest if k[1] in resource_ids]:
            del self.w.latest[key]


class FakeNodes:
    """NodeDirectory (snapshots carry the tags only) and TagEditor."""

    def __init__(self, world: World) -> None:
        self.w = world

    def active(self) -> list[str]:
        return sorted(n for n in self.w.nodes if n not in self.w.gone)

    def is_active(self, node_id: str) -> bool:
        return node_id in self.w.nodes and node_id not in self.w.gone

    def exists(self, node_id: str) -> bool:
        return node_id in self.w.nodes

    def snapshot(self, node_id: str) -> NodeSnapshot | None:
        if node_id not in self.w.nodes:
            return None
        return NodeSnapshot(node_id=node_id, tags=dict(self.w.nodes[node_id]))

    def tags(self, node_id: str) -> Mapping[str, str] | None:
        return dict(self.w.nodes[node_id]) if self.is_active(node_id) else None

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        self.w.nodes[node_id] = dict(tags)


class FakeRemediations:
    def __init__(self, world: World) -> None:
        self.w = world

    def state(self, rule: str, resource_id: str) -> RemediationState | None:
        self.w.locked.append((rule, resource_id))
        found = self.w.states.get((rule, resource_id))
        return found[0] if found else None

    def save(self, rule: str, resource_id: str, state: RemediationState, at: datetime) -> None:
        self.w.states[(rule, resource_id)] = (state, at)

    def claim(self, phases: Collection[Phase]) -> list[Tracked]:
        found = [(at, k, s) for k, (s, at) in self.w.states.items() if s.phase in phases]
        return [Tracked(k[0], k[1], s) for _, k, s in sorted(found, key=lambda x: (x[0], x[1]))]

    def count(self, rule: str, phases: Collection[Phase]) -> int:
        return sum(1 for (r, _), (s, _) in self.w.states.items() if r == rule and s.phase in phases)

    def has_exception(self, rule: str, resource_id: str) -> bool:
        return (rule, resource_id) in self.w.exceptions

    def put_exception(
        self, rule: str, resource_id: str, exception: RecordException, actor: str, at: datetime
    ) -> None:
        self.w.exceptions[(rule, resource_id)] = {
            "reason": exception.reason,
            "manual": exception.manual,
            "expires_at": exception.until,
            "created_by": actor,
        }

    def drop_exception(self, rule: str, resource_id: str) -> None:
        self.w.exceptions.pop((rule, resource_id), None)

    def add_run(
        self, rule: str, resource_id: str, manual: bool, actor: str, at: datetime
    ) -> RemediationRun:
        run_id = self.w.new_id("run")
        self.w.runs[run_id] = {
            "rule": rule,
            "resource_id": resource_id,
            "manual": manual,
            "status": "IN_PROGRESS",
            "execution_id": None,
            "ended_at": None,
            "message": "",
        }
        return RemediationRun(run_id, rule, resource_id)

    def link_run(self, run_id: str, execution_id: str) -> None:
        self.w.runs[run_id]["execution_id"] = execution_id

    def end_run(self, run_id: str, status: str, at: datetime, message: str | None = None) -> None:
        self.w.runs[run_id].update(status=status, ended_at=at)
        if message is not None:
            self.w.runs[run_id]["message"] = message

    def _run(self, run_id: str) -> RemediationRun:
        r = self.w.runs[run_id]
        ended = r["ended_at"] is not None
        return RemediationRun(run_id, r["rule"], r["resource_id"], r["execution_id"], ended)

    def run(self, run_id: str) -> RemediationRun | None:
        return self._run(run_id) if run_id in self.w.runs else None

    def runs_of(self, execution_ids: Collection[str]) -> dict[str, RemediationRun]:
        wanted = set(execution_ids)
        return {
            r["execution_id"]: self._run(run_id)
            for run_id, r in self.w.runs.items()
            if r["execution_id"] in wanted
        }

    def run_of(self, execution_id: str) -> RemediationRun | None:
        for run_id, r in self.w.runs.items():
            if r["execution_id"] == execution_id:
                return self._run(run_id)
        return None


class FakeExecutions:
    def __init__(self, world: World) -> None:
        self.w = world

    def create(
        self,
        runbook: StoredRunbook,
        steps: Sequence[tuple[str, str]],
        execution: Execution,
        actor: str,
        at: datetime,
    ) -> str:
        execution_id = self.w.new_id("exec")
        self.w.executions[execution_id] = {
            "runbook": runbook,
            "execution": execution,
            "waiting": {name: {} for name, _ in steps},
            "created_by": actor,
        }
        return execution_id

    def get(self, execution_id: str, *, lock: bool = False) -> StoredExecution | None:
        found = self.w.executions.get(execution_id)
        if found is None:
            return None
        book = found["runbook"]
        return StoredExecution(execution_id, book.name, book.spec, found["execution"])

    def save(self, execution_id: str, execution: Execution) -> None:
        found = self.w.executions[execution_id]
        found["execution"] = execution
        for name, run in execution.steps.items():
            if run.status.done:
                found["waiting"][name] = {}

    def waiting(self, execution_id: str, step: str) -> Mapping[str, Any]:
        return dict(self.w.executions[execution_id]["waiting"][step])

    def set_waiting(self, execution_id: str, step: str, waiting: Mapping[str, Any]) -> None:
        self.w.executions[execution_id]["waiting"][step] = dict(waiting)

    def claim_active(self) -> list[str]:
        return [i for i, e in self.w.executions.items() if e["execution"].status.value in ACTIVE]


class FakeCommands:
    """CommandSender and CommandResults: commands stay running until ``finish``."""

    def __init__(self, world: World) -> None:
        self.w = world

    def send(self, request: CommandRequest, at: datetime) -> SentCommand:
        self.w.sent.append(request)
        command_id = self.w.new_id("cmd")
        self.w.commands[command_id] = None
        return SentCommand(command_id, 1 if self.w.nodes.get(request.node_id) is not None else 0)

    def outcome(self, command_id: str) -> CommandOutcome | None:
        return self.w.commands.get(command_id)


def finish_commands(world: World, status: str, output: str = "") -> None:
    """Every running command ends with ``status``."""
    for command_id, outcome in world.commands.items():
        if outcome is None:
            world.commands[command_id] = CommandOutcome(command_id, status, output)


class FakeAudit:
    def __init__(self, world: World) -> None:
        self.w = world

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.w.audit.append((actor, action, target))


def governance(world: World, outbox: Outbox | None = None) -> Governance:
    """Every port over ``world``."""
    documents, nodes = FakeDocuments(world), FakeNodes(world)
    commands = FakeCommands(world)
    return Governance(
        catalog=documents,
        documents=documents,
        results=FakeResults(world),
        nodes=nodes,
        tags=nodes,
        remediations=FakeRemediations(world),
        executions=FakeExecutions(world),
        commands=commands,
        command_results=commands,
        audit=FakeAudit(world),
        outbox=outbox if outbox is not None else Outbox(),
    )


@dataclass
class FakeUnitOfWork:
    """Transactions over a :class:`World`: a rolled back one leaves it as it was."""

    world: World
    log: list[str] = field(default_factory=list)

    def run(self, work: Callable[[Governance], T]) -> tuple[T, tuple[Notification, ...]]:
        saved, outbox = copy.deepcopy(self.world), Outbox()
        self.log.append("begin")
        try:
            result = work(governance(self.world, outbox))
        except BaseException:
            self.world.__dict__.update(saved.__dict__)
            self.log.append("rollback")
            raise
        self.log.append("commit")
        return result, outbox.drain()


@dataclass
class FakeNotifier:
    """Records every webhook in ``log`` (shared with a unit of work: the order shows)."""

    log: list[str]
    answer: Delivery = field(default_factory=lambda: Delivery(status_code=204))
    sent: list[tuple[str, Mapping[str, object]]] = field(default_factory=list)

    def send(self, target: WebhookTarget, payload: Mapping[str, object]) -> Delivery:
        self.log.append(f"send {target.name}")
        self.sent.append((target.name, dict(payload)))
        return self.answer
