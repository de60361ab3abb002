"""Activations and registration (reference §7): limits, expiry, tags, credentials."""

from __future__ import annotations

from fleet_helpers import DEBIAN_FACTS, Api, error_of


def _register(api: Api, act: dict[str, str], **extra: object) -> tuple[int, dict[str, object]]:
    r = api.client.post(
        "/api/v1/register",
        json={
            "activation_id": act["activation_id"],
            "activation_code": act["activation_code"],
            "facts": DEBIAN_FACTS,
            **extra,
        },
    )
    return r.status_code, r.json()


def test_activation_defaults_and_code_shown_once(api: Api) -> None:
    act = api.activation()
    assert act["registration_limit"] == 1 and len(act["activation_code"]) >= 20
    assert (act["expires_at"] or "").startswith("2026-03-02T12:00")  # 24 h after the clock
    listed = api.ok("GET", "/api/v1/activations")
    assert "activation_code" not in listed[0]


def test_activation_codes_never_read_as_an_option(api: Api) -> None:
    """A code is typed after ``--activation-code`` (CLI, install.sh): one starting with "-"
    would be read as an option, so codes are letters and digits only."""
    codes = [
        api.ok("POST", "/api/v1/activations", json={"registration_limit": 1})["activation_code"]
        for _ in range(40)
    ]
    assert all(code.isascii() and code.isalnum() and len(code) >= 32 for code in codes), codes


def test_activation_limits_are_validated(api: Api) -> None:
    for body in (
        {"registration_limit": 0},
        {"registration_limit": 1001},
        {"expires_in_seconds": 31 * 86400},
        {"tags": {"": "x"}},
        {"unknown": 1},
    ):
        r = api.call("POST", "/api/v1/activations", json=body)
        assert error_of(r) == (400, "invalid_request"), body


def test_register_returns_mi_id_and_working_credential(api: Api) -> None:
    act = api.activation(tags={"Env": "prod", "Patch Group": "web"}, default_instance_name="n")
    code, body = _register(api, act, tags={"Role": "db", "Env": "stage"})
    assert code == 201
    node_id = str(body["node_id"])
    assert node_id.startswith("mi-") and len(node_id) == 20
    assert body["tags"] == {"Env": "stage", "Patch Group": "web", "Role": "db"}
    node = api.ok("GET", f"/api/v1/nodes/{node_id}")
    assert node["name"] == "n" and node["patch_group"] == "web"
    assert node["ping_status"] == "Online" and node["platform"]["operating_system"] == "DEBIAN"
    cred = str(body["credential"])
    assert (
        api.client.get(
            "/api/v1/agent/commands", headers={"Authorization": f"Bearer {cred}"}
        ).status_code
        == 200
    )
    audit = api.ok("GET", "/api/v1/audit", params={"action": "node.register"})
    assert audit[0]["target"] == node_id


def test_wrong_code_and_unknown_activation_are_refused(api: Api) -> None:
    act = api.activation()
    r = api.client.post(
        "/api/v1/register",
        json={"activation_id": act["activation_id"], "activation_code": "wrong-code-xxxxxxxxxx"},
    )
    assert error_of(r) == (401, "invalid_activation")
    r = api.client.post(
        "/api/v1/register", json={"activation_id": "nope", "activation_code": "x" * 20}
    )
    assert error_of(r) == (401, "invalid_activation")


def test_registration_limit(api: Api) -> None:
    act = api.activation(registration_limit=2)
    assert _register(api, act)[0] == 201
    assert _register(api, act)[0] == 201
    code, body = _register(api, act)
    assert code == 403 and body["error"]["code"] == "registration_limit"  # type: ignore[index]
    listed = api.ok("GET", "/api/v1/activations")
    assert listed[0]["registration_count"] == 2


def test_expired_activation_stops_new_registrations_only(api: Api) -> None:
    act = api.activation(registration_limit=2, expires_in_seconds=3600)
    node = api.register(act)
    api.clock.advance(3600)
    code, body = _register(api, act)
    assert code == 403 and body["error"]["code"] == "activation_expired"  # type: ignore[index]
    assert node.call("GET", "/api/v1/agent/commands").status_code == 200


def test_credential_rotation(api: Api) -> None:
    node = api.register()
    r = node.call("POST", "/api/v1/agent/credential")
    new = r.json()["credential"]
    assert error_of(node.call("GET", "/api/v1/agent/commands")) == (401, "unauthenticated")
    node.credential = new
    assert node.call("GET", "/api/v1/agent/commands").status_code == 200


def test_deregistered_node_is_refused_and_inactive(api: Api) -> None:
    node = api.register()
    api.ok("DELETE", f"/api/v1/nodes/{node.id}")
    assert error_of(node.call("GET", "/api/v1/agent/commands")) == (403, "forbidden")
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}")
    assert shown["ping_status"] == "Inactive"


def test_ping_status_from_last_check_in(api: Api) -> None:
    node = api.register()
    api.clock.advance(301)
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["ping_status"] == "ConnectionLost"
    node.poll()
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["ping_status"] == "Online"
    api.clock.advance(31 * 86400)
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["ping_status"] == "Inactive"
    online = api.ok("GET", "/api/v1/nodes", params={"ping_status": "Online"})
    assert online == []


def test_node_list_filters_by_tags_and_values(api: Api) -> None:
    a = api.register(tags={"Env": "prod", "Role": "web"})
    b = api.register(tags={"Env": "stage", "Role": "web"})
    api.register(tags={"Env": "prod", "Role": "db"})

    def ids(*tags: str) -> set[str]:
        return {n["node_id"] for n in api.ok("GET", "/api/v1/nodes", params={"tag": list(tags)})}

    assert ids("Role=web") == {a.id, b.id}
    assert ids("Role=web", "Env=prod") == {a.id}  # AND across keys
    assert ids("Env=prod", "Env=stage", "Role=web") == {a.id, b.id}  # OR across values
    r = api.call("GET", "/api/v1/nodes", params={"tag": "novalue"})
    assert error_of(r) == (400, "invalid_request")
