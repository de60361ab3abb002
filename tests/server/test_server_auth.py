"""Tokens, roles, the audit log and every refusal between roles."""

from __future__ import annotations

from fleet_helpers import Api, error_of


def test_bootstrap_admin_can_create_tokens_and_read_the_audit_log(api: Api) -> None:
    made = api.ok("POST", "/api/v1/tokens", json={"name": "ops", "role": "operator"})
    assert made["token"].startswith("pwt_") and made["role"] == "operator"
    listed = api.ok("GET", "/api/v1/tokens")
    assert {t["name"] for t in listed} == {"initial-admin", "ops"}
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    audit = api.ok("GET", "/api/v1/audit")
    assert audit[0]["action"] == "token.create" and audit[0]["actor"] == "token:initial-admin"
    assert audit[0]["detail"] == {"name": "ops", "role": "operator"}


def test_missing_or_bad_credentials_are_401(api: Api) -> None:
    assert error_of(api.client.get("/api/v1/nodes")) == (401, "unauthenticated")
    bad = api.call("GET", "/api/v1/nodes", token=api.admin[:-2] + "xx")
    assert error_of(bad) == (401, "unauthenticated")
    junk = api.client.get("/api/v1/nodes", headers={"Authorization": "Basic abc"})
    assert error_of(junk) == (401, "unauthenticated")


def test_viewer_reads_but_cannot_send_commands_or_edit_baselines(api: Api) -> None:
    viewer = api.token("viewer")
    assert api.call("GET", "/api/v1/nodes", viewer).status_code == 200
    assert api.call("GET", "/api/v1/compliance/summary", viewer).status_code == 200
    sent = api.send(viewer, InstanceIds=["mi-00000000000000000"])
    assert error_of(sent) == (403, "forbidden")
    doc = {"apiVersion": "patchwarden/v1", "kind": "PatchBaseline"}
    put = api.call("PUT", "/api/v1/baselines/x", viewer, json=doc)
    assert error_of(put) == (403, "forbidden")
    assert error_of(api.call("GET", "/api/v1/audit", viewer)) == (403, "forbidden")


def test_operator_cannot_manage_tokens_or_activations(api: Api) -> None:
    op = api.token("operator")
    made = api.call("POST", "/api/v1/tokens", op, json={"name": "x", "role": "admin"})
    assert error_of(made) == (403, "forbidden")
    assert error_of(api.call("GET", "/api/v1/tokens", op)) == (403, "forbidden")
    act = api.call("POST", "/api/v1/activations", op, json={})
    assert error_of(act) == (403, "forbidden")
    assert error_of(api.call("GET", "/api/v1/audit", op)) == (403, "forbidden")


def test_revoked_token_stops_working_and_revocation_is_audited(api: Api) -> None:
    made = api.ok("POST", "/api/v1/tokens", json={"name": "temp", "role": "viewer"})
    assert api.call("GET", "/api/v1/nodes", made["token"]).status_code == 200
    api.ok("DELETE", f"/api/v1/tokens/{made['id']}")
    assert error_of(api.call("GET", "/api/v1/nodes", made["token"])) == (401, "unauthenticated")
    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    assert actions[:2] == ["token.revoke", "token.create"]


def test_duplicate_token_name_is_409(api: Api) -> None:
    api.ok("POST", "/api/v1/tokens", json={"name": "dup", "role": "viewer"})
    again = api.call("POST", "/api/v1/tokens", json={"name": "dup", "role": "viewer"})
    assert error_of(again) == (409, "conflict")


def test_node_credential_cannot_call_operator_endpoints_and_tokens_cannot_act_as_nodes(
    api: Api,
) -> None:
    node = api.register()
    assert error_of(node.call("GET", "/api/v1/nodes")) == (403, "forbidden")
    assert error_of(node.call("POST", "/api/v1/commands", json={})) == (403, "forbidden")
    as_node = api.call("GET", "/api/v1/agent/commands")
    assert error_of(as_node) == (403, "forbidden")
