"""The fleet's administration use cases on in-memory ports: node registration with an
activation, credentials, tokens, activations, node tags and deregistration, baselines and
their registrations, and the compliance summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fleet_fakes import (
    AT,
    FakeActivations,
    FakeAudit,
    FakeBaselines,
    FakeNodes,
    FakePatchGroups,
    FakeSecrets,
    FakeTokens,
    World,
    node,
)

from patchwarden.core.baseline import default_baseline
from patchwarden.documents import BaselineDocument
from patchwarden.pipeline.fleet import access, baselines, nodes, patch_groups, registration
from patchwarden.pipeline.fleet.compliance import NodeCompliance, summarize
from patchwarden.pipeline.fleet.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
)
from patchwarden.pipeline.fleet.records import ActivationSpec, HostFacts


def _activation(world: World, limit: int = 1, **changes: Any) -> str:
    spec = ActivationSpec(
        description="",
        default_instance_name=changes.get("default_instance_name", ""),
        registration_limit=limit,
        expires_at=AT + timedelta(days=1),
        tags={"Env": "prod", "Role": "db"},
    )
    record, _ = access.create_activation(FakeActivations(world), FakeAudit(world), spec, "a", AT)
    return record.id


def _register(world: World, activation_id: str, code: str | None = None, **changes: Any) -> Any:
    added: list[str] = []
    request = registration.Registration(
        activation_id=activation_id,
        activation_code=code or f"code-{activation_id}",
        name=changes.get("name", ""),
        tags=changes.get("tags", {}),
        facts=HostFacts(hostname="web-1", operating_system="UBUNTU"),
    )
    done = registration.register_node(
        FakeActivations(world),
        FakeNodes(world),
        FakeSecrets(),
        FakeAudit(world),
        request,
        changes.get("at", AT),
        added.append,
    )
    return done, added


def test_a_node_registers_with_its_activations_tags_overridden_by_its_own() -> None:
    world = World()
    act = _activation(world, default_instance_name="from-activation")
    done, added = _register(world, act, tags={"Role": "web"})
    assert done.tags == {"Env": "prod", "Role": "web"}
    assert done.credential == f"{done.node_id}.secret-1"
    assert added == [done.node_id]
    stored = world.nodes[done.node_id]
    assert (stored.name, stored.activation_id) == ("from-activation", act)
    assert world.audit[-1] == (
        f"activation:{act}",
        "node.register",
        done.node_id,
        {"tags": done.tags},
    )


def test_registration_refusals() -> None:
    world = World()
    act = _activation(world)
    for ident, code in (("nope", "x"), (act, "wrong")):
        with pytest.raises(Unauthenticated) as refused:
            _register(world, ident, code)
        assert refused.value.code == "invalid_activation"
    with pytest.raises(Forbidden) as expired:
        _register(world, act, at=AT + timedelta(days=1))
    assert expired.value.code == "activation_expired"
    done, _ = _register(world, act)
    assert world.nodes[done.node_id].name == "web-1"  # no name given: the hostname
    with pytest.raises(Forbidden, match=r"limit of 1 registration\(s\)") as full:
        _register(world, act)
    assert full.value.code == "registration_limit"


def test_a_node_rotates_its_credential() -> None:
    world = World()
    world.nodes["mi-1"] = node("mi-1")
    secrets = FakeSecrets()
    secrets.count = 4
    credential = registration.rotate_credential(
        FakeNodes(world), secrets, FakeAudit(world), "mi-1", "node:mi-1", AT
    )
    assert credential == "mi-1.secret-5"
    assert world.nodes["mi-1"].last_seen_at == AT
    assert world.audit == [("node:mi-1", "node.rotate_credential", "mi-1", {})]


def test_tokens_have_unique_names_and_are_revoked_once() -> None:
    world = World()
    tokens, audit = FakeTokens(world), FakeAudit(world)
    record, value = access.create_token(tokens, audit, "ci", "operator", "token:admin", AT)
    assert value.startswith(f"pwt_{record.id}.")
    with pytest.raises(Conflict, match="a token named 'ci' already exists"):
        access.create_token(tokens, audit, "ci", "viewer", "token:admin", AT)
    assert access.revoke_token(tokens, audit, record.id, "token:admin", AT).revoked_at == AT
    access.revoke_token(tokens, audit, record.id, "token:admin", AT)
    assert [a[1] for a in world.audit] == ["token.create", "token.revoke"]
    with pytest.raises(NotFound):
        access.revoke_token(tokens, audit, "nope", "token:admin", AT)


def test_an_activation_expires_now_at_the_latest() -> None:
    world = World()
    act = _activation(world)
    later = AT + timedelta(hours=1)
    record = access.expire_activation(FakeActivations(world), FakeAudit(world), act, "a", later)
    assert record.expires_at == later
    assert world.audit[0][3] == {"registration_limit": 1, "tags": {"Env": "prod", "Role": "db"}}
    assert world.audit[-1][:3] == ("a", "activation.delete", act)
    with pytest.raises(NotFound):
        access.expire_activation(FakeActivations(world), FakeAudit(world), "nope", "a", AT)


def test_retagging_moves_patch_groups_and_runs_the_change_trigger_only_on_change() -> None:
    world = World()
    world.nodes["mi-1"] = node("mi-1", tags={"Env": "prod"})
    changed: list[str] = []
    store, audit = FakeNodes(world), FakeAudit(world)
    tags = {"Env": "prod", "Patch Group": "web"}
    after = nodes.retag_node(store, audit, "mi-1", tags, "token:ops", AT, changed.append)
    assert after.patch_group == "web"
    nodes.retag_node(store, audit, "mi-1", tags, "token:ops", AT, changed.append)
    assert changed == ["mi-1"]
    assert world.audit == [
        ("token:ops", "node.tags", "mi-1", {"from": {"Env": "prod"}, "to": tags})
    ]
    with pytest.raises(NotFound, match="node mi-9 not found"):
        nodes.retag_node(store, audit, "mi-9", {}, "token:ops", AT, changed.append)


def test_deregistration_happens_once() -> None:
    world = World()
    world.nodes["mi-1"] = node("mi-1")
    store, audit = FakeNodes(world), FakeAudit(world)
    assert nodes.deregister_node(store, audit, "mi-1", "token:admin", AT).deregistered_at == AT
    later = AT + timedelta(days=1)
    assert nodes.deregister_node(store, audit, "mi-1", "token:admin", later).deregistered_at == AT
    assert [a[1] for a in world.audit] == ["node.deregister"]


def _doc(name: str, os_name: str = "UBUNTU") -> BaselineDocument:
    return BaselineDocument(replace(default_baseline(os_name), name=name), {}, "test")


def test_a_baseline_is_created_then_replaced_but_keeps_its_os() -> None:
    world = World()
    store, audit = FakeBaselines(world), FakeAudit(world)
    first, created = baselines.save_baseline(store, audit, _doc("web"), "token:ops", AT)
    assert created and first.description
    again, created = baselines.save_baseline(
        store, audit, _doc("web"), "token:ops", AT, imported=True
    )
    assert (again.id, created) == (first.id, False)
    assert [(a[1], a[3]) for a in world.audit] == [
        ("baseline.create", {}),
        ("baseline.import", {"created": False}),
    ]
    with pytest.raises(Invalid, match="cannot be changed after creation"):
        baselines.store_baseline(store, _doc("web", "DEBIAN"), AT)


def test_registrations_guard_baselines() -> None:
    world = World()
    store, groups, audit = FakeBaselines(world), FakePatchGroups(world), FakeAudit(world)
    baselines.store_baseline(store, _doc("web"), AT)
    reg = patch_groups.register_patch_group(store, groups, audit, "canary", "web", "o", AT)
    assert (reg.patch_group, reg.operating_system, reg.baseline) == ("canary", "UBUNTU", "web")
    with pytest.raises(Conflict) as twice:
        patch_groups.register_patch_group(store, groups, audit, "canary", "web", "o", AT)
    assert twice.value.code == "already_exists"
    with pytest.raises(Conflict, match="registered for patch group 'canary'"):
        baselines.delete_baseline(store, audit, "web", "o", AT)
    patch_groups.deregister_patch_group(groups, audit, "canary", "UBUNTU", "o", AT)
    with pytest.raises(NotFound):
        patch_groups.deregister_patch_group(groups, audit, "canary", "UBUNTU", "o", AT)
    with pytest.raises(Invalid, match="is for UBUNTU, not DEBIAN"):
        patch_groups.set_default(store, groups, audit, "DEBIAN", "web", "o", AT)
    patch_groups.set_default(store, groups, audit, "UBUNTU", "web", "o", AT)
    with pytest.raises(Conflict, match="is the default for UBUNTU"):
        baselines.delete_baseline(store, audit, "web", "o", AT)
    patch_groups.reset_default(groups, audit, "UBUNTU", "o", AT)
    with pytest.raises(NotFound, match="default baseline for UBUNTU"):
        patch_groups.reset_default(groups, audit, "UBUNTU", "o", AT)
    assert baselines.delete_baseline(store, audit, "web", "o", AT).name == "web"
    with pytest.raises(NotFound, match="baseline 'web' not found"):
        baselines.delete_baseline(store, audit, "web", "o", AT)


def test_the_compliance_summary_counts_unreported_nodes() -> None:
    fleet = [
        NodeCompliance("web", "UBUNTU", "COMPLIANT", None),
        NodeCompliance("web", "UBUNTU", "NON_COMPLIANT", "CRITICAL"),
        NodeCompliance(None, "DEBIAN", None, None),
    ]
    summary = summarize(fleet, "patch_group")
    assert summary["total"] == {"COMPLIANT": 1, "NON_COMPLIANT": 1, "UNREPORTED": 1, "nodes": 3}
    assert [(g["key"], g["nodes"]) for g in summary["groups"]] == [(None, 1), ("web", 2)]
    by_severity = summarize(fleet, "severity")["groups"]
    assert [(g["key"], g["NON_COMPLIANT"]) for g in by_severity] == [(None, 0), ("CRITICAL", 1)]
