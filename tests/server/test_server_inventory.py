"""Inventory uploads (full, then deltas by hash), package queries, cross-node refusals."""

from __future__ import annotations

from typing import Any

from fleet_helpers import Api, error_of

from patchwarden.wire import content_hash, item_hash


def item(name: str, version: str, kind: str = "installed") -> dict[str, str]:
    return {"kind": kind, "name": name, "arch": "amd64", "version": version}


def full(items: list[dict[str, str]]) -> dict[str, Any]:
    return {"items": items, "content_hash": content_hash(item_hash(i) for i in items)}


def test_full_then_delta_upload(api: Api) -> None:
    node = api.register()
    first = [item("openssl", "3.0.1"), item("bash", "5.2"), item("openssl", "3.0.2", "update")]
    r = node.call("PUT", "/api/v1/agent/inventory", json=full(first))
    assert r.status_code == 200, r.text
    assert r.json()["installed_count"] == 2 and r.json()["update_count"] == 1
    base = r.json()["content_hash"]
    second = [item("openssl", "3.0.2"), item("bash", "5.2")]
    delta = {
        "base_hash": base,
        "content_hash": content_hash(item_hash(i) for i in second),
        "added": [item("openssl", "3.0.2")],
        "removed": [item_hash(first[0]), item_hash(first[2])],
    }
    r = node.call("PATCH", "/api/v1/agent/inventory", json=delta)
    assert r.status_code == 200, r.text
    assert r.json()["update_count"] == 0
    shown = api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")
    assert {(i["name"], i["version"]) for i in shown} == {("openssl", "3.0.2"), ("bash", "5.2")}
    # an unchanged inventory is a cheap heartbeat
    same = {"base_hash": delta["content_hash"], "content_hash": delta["content_hash"]}
    assert node.call("PATCH", "/api/v1/agent/inventory", json=same).status_code == 200


def test_delta_on_a_stale_base_is_409_and_changes_nothing(api: Api) -> None:
    node = api.register()
    node.call("PUT", "/api/v1/agent/inventory", json=full([item("a", "1")]))
    stale = {
        "base_hash": "0" * 64,
        "content_hash": "1" * 64,
        "added": [item("b", "1")],
    }
    assert error_of(node.call("PATCH", "/api/v1/agent/inventory", json=stale)) == (
        409,
        "inventory_mismatch",
    )
    # a delta whose result is not the stated hash is refused too
    header = node.call("PUT", "/api/v1/agent/inventory", json=full([item("a", "1")])).json()
    wrong = {
        "base_hash": header["content_hash"],
        "content_hash": "2" * 64,
        "added": [item("c", "1")],
    }
    assert node.call("PATCH", "/api/v1/agent/inventory", json=wrong).status_code == 409
    names = {i["name"] for i in api.ok("GET", f"/api/v1/nodes/{node.id}/inventory")}
    assert names == {"a"}


def test_full_upload_with_a_wrong_hash_is_400(api: Api) -> None:
    node = api.register()
    body = {"items": [item("a", "1")], "content_hash": "f" * 64}
    assert error_of(node.call("PUT", "/api/v1/agent/inventory", json=body)) == (
        400,
        "invalid_request",
    )


def test_which_nodes_have_package_at_version(api: Api) -> None:
    a, b = api.register(), api.register()
    a.call("PUT", "/api/v1/agent/inventory", json=full([item("openssl", "3.0.1")]))
    b.call("PUT", "/api/v1/agent/inventory", json=full([item("openssl", "3.0.2")]))
    any_version = api.ok("GET", "/api/v1/inventory/packages", params={"name": "openssl"})
    assert {h["node_id"] for h in any_version} == {a.id, b.id}
    exact = api.ok(
        "GET", "/api/v1/inventory/packages", params={"name": "openssl", "version": "3.0.2"}
    )
    assert [h["node_id"] for h in exact] == [b.id]
    viewer = api.token("viewer")
    assert api.call("GET", "/api/v1/inventory/packages", viewer, params={"name": "x"}).json() == []


def test_inventory_endpoints_refuse_operators_and_strangers(api: Api) -> None:
    body = full([item("a", "1")])
    assert error_of(api.call("PUT", "/api/v1/agent/inventory", json=body)) == (403, "forbidden")
    assert error_of(api.client.put("/api/v1/agent/inventory", json=body)) == (
        401,
        "unauthenticated",
    )


def test_malformed_inventory_is_400(api: Api) -> None:
    node = api.register()
    for body in (
        {"items": "nope", "content_hash": "0" * 64},
        {"items": [{"kind": "weird", "name": "a"}], "content_hash": "0" * 64},
        {"items": [], "content_hash": "short"},
        [],
    ):
        r = node.call("PUT", "/api/v1/agent/inventory", json=body)
        assert error_of(r) == (400, "invalid_request"), body
    r = node.call(
        "PUT",
        "/api/v1/agent/inventory",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert error_of(r) == (400, "invalid_request")
