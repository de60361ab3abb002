"""In-memory fakes of the fleet ports (no database): one :class:`World` holds the state and
each fake implements one port over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from patchwarden.pipeline.fleet.command_records import (
    CommandRecord,
    CommandSpec,
    ComplianceReport,
    FinishedInvocation,
    InvocationSpec,
    InvocationState,
)
from patchwarden.pipeline.fleet.commands import Fleet
from patchwarden.pipeline.fleet.records import (
    ActivationGrant,
    ActivationRecord,
    ActivationSpec,
    GroupRegistration,
    NewNode,
    NodeRecord,
    StoredBaseline,
    TargetNode,
    TargetSelection,
    TokenRecord,
)

AT = datetime(2025, 1, 1)


@dataclass
class World:
    """Everything the fakes store."""

    audit: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    baselines: dict[str, StoredBaseline] = field(default_factory=dict)
    groups: dict[tuple[str, str], str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    commands: dict[str, CommandRecord] = field(default_factory=dict)
    invocations: dict[str, list[InvocationSpec]] = field(default_factory=dict)
    states: dict[str, InvocationState] = field(default_factory=dict)
    finished: dict[str, FinishedInvocation] = field(default_factory=dict)
    compliance: dict[str, ComplianceReport] = field(default_factory=dict)
    rolled_up: list[str] = field(default_factory=list)
    activations: dict[str, ActivationRecord] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)


class FakeAudit:
    """AuditLog."""

    def __init__(self, world: World) -> None:
        self.world = world

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.world.audit.append((actor, action, target, dict(detail or {})))


class FakeBaselines:
    """BaselineRepository and BaselineSource."""

    def __init__(self, world: World) -> None:
        self.world = world

    def _by_id(self, ident: str) -> StoredBaseline | None:
        return next((b for b in self.world.baselines.values() if b.id == ident), None)

    def add(self, document: dict[str, Any]) -> StoredBaseline:
        """Store ``document`` directly (test set-up)."""
        spec = document["spec"]
        return self.create(document["metadata"]["name"], spec["OperatingSystem"], document, AT)

    def by_name(self, name: str) -> StoredBaseline | None:
        return self.world.baselines.get(name)

    def named_document(self, name: str) -> dict[str, Any] | None:
        found = self.by_name(name)
        return found.document if found else None

    def group_document(self, patch_group: str, operating_system: str) -> dict[str, Any] | None:
        ident = self.world.groups.get((patch_group, operating_system))
        found = self._by_id(ident) if ident else None
        return found.document if found else None

    def default_document(self, operating_system: str) -> dict[str, Any] | None:
        ident = self.world.defaults.get(operating_system)
        found = self._by_id(ident) if ident else None
        return found.document if found else None

    def create(
        self, name: str, operating_system: str, document: dict[str, Any], at: datetime
    ) -> StoredBaseline:
        stored = StoredBaseline(
            f"pb-{len(self.world.baselines)}", name, operating_system, document, at, at
        )
        self.world.baselines[name] = stored
        return stored

    def replace(self, baseline_id: str, document: dict[str, Any], at: datetime) -> StoredBaseline:
        found = self._by_id(baseline_id)
        assert found is not None
        stored = replace(found, document=document, modified_at=at)
        self.world.baselines[found.name] = stored
        return stored

    def first_patch_group(self, baseline_id: str) -> str | None:
        return next((g for (g, _), b in self.world.groups.items() if b == baseline_id), None)

    def is_default(self, baseline_id: str) -> bool:
        return baseline_id in self.world.defaults.values()

    def delete(self, baseline_id: str) -> None:
        found = self._by_id(baseline_id)
        assert found is not None
        del self.world.baselines[found.name]


class FakePatchGroups:
    """PatchGroupRepository."""

    def __init__(self, world: World) -> None:
        self.world = world

    def registration(self, patch_group: str, operating_system: str) -> GroupRegistration | None:
        ident = self.world.groups.get((patch_group, operating_system))
        if ident is None:
            return None
        name = next(b.name for b in self.world.baselines.values() if b.id == ident)
        return GroupRegistration(patch_group, operating_system, name, ident)

    def register(self, registration: GroupRegistration) -> None:
        key = (registration.patch_group, registration.operating_system)
        self.world.groups[key] = registration.baseline_id

    def deregister(self, patch_group: str, operating_system: str) -> None:
        del self.world.groups[(patch_group, operating_system)]

    def set_default(self, operating_system: str, baseline_id: str) -> None:
        self.world.defaults[operating_system] = baseline_id

    def reset_default(self, operating_system: str) -> bool:
        return self.world.defaults.pop(operating_system, None) is not None


def node(ident: str, os_name: str = "UBUNTU", tags: Mapping[str, str] | None = None) -> NodeRecord:
    """A registered node with ``tags`` (its patch group from ``Patch Group``)."""
    tags = dict(tags or {})
    return NodeRecord(
        id=ident,
        name=ident,
        hostname=f"{ident}.example",
        activation_id=None,
        tags=tags,
        patch_group=tags.get("Patch Group"),
        os_id="",
        os_version="",
        operating_system=os_name,
        product="",
        agent_version="",
        registered_at=AT,
        last_seen_at=None,
        deregistered_at=None,
    )


class FakeNodes:
    """NodeRepository and NodeDirectory."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.selections: list[TargetSelection] = []

    def get(self, node_id: str) -> NodeRecord | None:
        return self.world.nodes.get(node_id)

    def add(self, new: NewNode) -> str:
        ident = f"mi-{len(self.world.nodes):017x}"
        record = replace(
            node(ident, new.facts.operating_system, new.tags),
            name=new.name,
            hostname=new.facts.hostname,
            activation_id=new.activation_id,
        )
        self.world.nodes[ident] = record
        return ident

    def set_tags(self, node_id: str, tags: Mapping[str, str]) -> None:
        self.world.nodes[node_id] = replace(
            self.world.nodes[node_id], tags=dict(tags), patch_group=tags.get("Patch Group")
        )

    def deregister(self, node_id: str, at: datetime) -> None:
        self.world.nodes[node_id] = replace(self.world.nodes[node_id], deregistered_at=at)

    def set_credential(self, node_id: str, credential_hash: str, at: datetime) -> None:
        self.world.nodes[node_id] = replace(self.world.nodes[node_id], last_seen_at=at)

    def targets(self, selection: TargetSelection) -> list[TargetNode]:
        self.selections.append(selection)
        chosen = []
        for n in sorted(self.world.nodes.values(), key=lambda n: n.id):
            if n.deregistered_at is None and (not selection.ids or n.id in selection.ids):
                chosen.append(TargetNode(n.id, n.operating_system, n.patch_group))
        return chosen


class FakeCommands:
    """CommandRepository: refreshing a cancelled command makes it ``Cancelled``."""

    def __init__(self, world: World) -> None:
        self.world = world

    def create(self, command: CommandSpec, invocations: Sequence[InvocationSpec]) -> CommandRecord:
        ident = f"cmd-{len(self.world.commands)}"
        record = CommandRecord(
            id=ident,
            document_name=command.document_name,
            parameters=command.parameters,
            targets=command.targets,
            comment=command.comment,
            max_concurrency=command.max_concurrency,
            max_errors=command.max_errors,
            timeout_seconds=command.timeout_seconds,
            execution_timeout_seconds=command.execution_timeout_seconds,
            status="Pending",
            status_details="Pending",
            target_count=command.target_count,
            completed_count=0,
            error_count=0,
            delivery_timed_out_count=0,
            requested_at=command.requested_at,
            created_by=command.created_by,
            cancel_requested=False,
        )
        self.world.commands[ident] = record
        self.world.invocations[ident] = list(invocations)
        self.limits = (command.concurrency_limit, command.error_limit)
        return record

    def lock(self, command_id: str) -> CommandRecord | None:
        return self.world.commands.get(command_id)

    def request_cancel(self, command_id: str) -> None:
        cmd = self.world.commands[command_id]
        self.world.commands[command_id] = replace(cmd, cancel_requested=True)

    def refresh(self, command_id: str, at: datetime) -> CommandRecord:
        cmd = self.world.commands[command_id]
        if cmd.cancel_requested:
            cmd = replace(cmd, status="Cancelled", status_details="Cancelled")
            self.world.commands[command_id] = cmd
        return cmd


def fleet(world: World) -> Fleet:
    """The ports of sending a command, over ``world``."""
    return Fleet(FakeCommands(world), FakeNodes(world), FakeBaselines(world))


class FakeReports:
    """InvocationReports."""

    def __init__(self, world: World) -> None:
        self.world = world

    def lock(self, invocation_id: str) -> InvocationState | None:
        return self.world.states.get(invocation_id)

    def finish(self, invocation_id: str, result: FinishedInvocation) -> None:
        self.world.finished[invocation_id] = result
        state = self.world.states[invocation_id]
        self.world.states[invocation_id] = replace(state, status=result.status)

    def save_compliance(self, node_id: str, report: ComplianceReport, at: datetime) -> None:
        self.world.compliance[node_id] = report

    def roll_up(self, command_id: str, at: datetime) -> str:
        self.world.rolled_up.append(command_id)
        return "InProgress"


class FakeSecrets:
    """Secrets: ``secret-N``, hashed by prefixing ``h:``."""

    def __init__(self) -> None:
        self.count = 0

    def new_secret(self) -> str:
        self.count += 1
        return f"secret-{self.count}"

    def hash(self, secret: str) -> str:
        return f"h:{secret}"

    def verify(self, secret: str, stored_hash: str) -> bool:
        return stored_hash == f"h:{secret}"


class FakeActivations:
    """ActivationRepository."""

    def __init__(self, world: World) -> None:
        self.world = world

    def create(
        self, spec: ActivationSpec, created_by: str, at: datetime
    ) -> tuple[ActivationRecord, str]:
        ident = f"act-{len(self.world.activations)}"
        record = ActivationRecord(
            id=ident,
            description=spec.description,
            default_instance_name=spec.default_instance_name,
            registration_limit=spec.registration_limit,
            registration_count=0,
            expires_at=spec.expires_at,
            tags=dict(spec.tags),
            created_at=at,
            created_by=created_by,
        )
        self.world.activations[ident] = record
        self.world.codes[ident] = f"h:code-{ident}"
        return record, f"code-{ident}"

    def expire(self, activation_id: str, at: datetime) -> ActivationRecord | None:
        found = self.world.activations.get(activation_id)
        if found is None:
            return None
        found = replace(found, expires_at=min(found.expires_at, at))
        self.world.activations[activation_id] = found
        return found

    def grant(self, activation_id: str) -> ActivationGrant | None:
        found = self.world.activations.get(activation_id)
        if found is None:
            return None
        return ActivationGrant(
            found.id,
            self.world.codes[found.id],
            found.expires_at,
            found.registration_limit,
            found.default_instance_name,
            found.tags,
        )

    def claim_slot(self, activation_id: str) -> bool:
        found = self.world.activations[activation_id]
        if found.registration_count >= found.registration_limit:
            return False
        count = found.registration_count + 1
        self.world.activations[activation_id] = replace(found, registration_count=count)
        return True


class FakeTokens:
    """TokenRepository."""

    def __init__(self, world: World) -> None:
        self.world = world

    def name_taken(self, name: str) -> bool:
        return any(t.name == name for t in self.world.tokens.values())

    def create(
        self, name: str, role: str, created_by: str, at: datetime
    ) -> tuple[TokenRecord, str]:
        ident = f"t{len(self.world.tokens)}"
        self.world.tokens[ident] = TokenRecord(ident, name, role, at, created_by, None)
        return self.world.tokens[ident], f"pwt_{ident}.secret"

    def revoke(self, token_id: str, at: datetime) -> tuple[TokenRecord, bool] | None:
        found = self.world.tokens.get(token_id)
        if found is None:
            return None
        if found.revoked_at is not None:
            return found, False
        self.world.tokens[token_id] = replace(found, revoked_at=at)
        return self.world.tokens[token_id], True
