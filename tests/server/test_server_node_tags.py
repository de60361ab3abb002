"""Editing a registered node's tags (operator role, audited) and what follows from it."""

from __future__ import annotations

from typing import Any

from fleet_helpers import Api, Node, error_of


def test_operator_replaces_tags_which_moves_patch_group_and_targets(api: Api) -> None:
    node = api.register(tags={"Env": "dev", "Patch Group": "web"})
    other = api.register(tags={"Env": "dev"})
    put = f"/api/v1/nodes/{node.id}/tags"
    changed = api.ok(
        "PUT", put, api.token("operator"), json={"tags": {"Env": "prod", "Patch Group": "db"}}
    )
    assert changed["tags"] == {"Env": "prod", "Patch Group": "db"}
    assert changed["patch_group"] == "db"
    listed = api.ok("GET", "/api/v1/nodes", params={"tag": "Env=prod"})
    assert [n["node_id"] for n in listed] == [node.id]
    assert [n["node_id"] for n in api.ok("GET", "/api/v1/nodes", params={"patch_group": "db"})] == [
        node.id
    ]
    sent = api.send(Targets=[{"Key": "tag:Env", "Values": ["prod"]}]).json()
    assert sent["target_count"] == 1
    assert [i["invocation_id"] for i in node.poll()] and other.poll() == []
    entry = api.ok("GET", "/api/v1/audit", params={"action": "node.tags"})[0]
    assert entry["actor"] == "token:t-operator" and entry["target"] == node.id
    assert entry["detail"] == {
        "from": {"Env": "dev", "Patch Group": "web"},
        "to": {"Env": "prod", "Patch Group": "db"},
    }


def test_tag_edits_are_refused_to_viewers_and_nodes_and_for_unknown_nodes(api: Api) -> None:
    node = api.register(tags={"Env": "dev"})
    body = {"tags": {"Env": "prod"}}
    put = f"/api/v1/nodes/{node.id}/tags"
    assert error_of(api.call("PUT", put, api.token("viewer"), json=body)) == (403, "forbidden")
    assert error_of(node.call("PUT", put, json=body)) == (403, "forbidden")
    assert error_of(api.call("PUT", "/api/v1/nodes/mi-00000000000000000/tags", json=body)) == (
        404,
        "not_found",
    )
    too_many = {"tags": {f"k{i}": "v" for i in range(51)}}
    assert error_of(api.call("PUT", put, json=too_many))[0] == 400
    assert api.ok("GET", f"/api/v1/nodes/{node.id}")["tags"] == {"Env": "dev"}
    assert api.ok("GET", "/api/v1/audit", params={"action": "node.tags"}) == []


def test_a_waiting_long_poll_is_woken_by_a_new_command(api: Api) -> None:
    import threading
    import time

    node, idle = api.register(), api.register()
    got: dict[str, tuple[list[dict[str, Any]], float]] = {}

    def poll(name: str, who: Node) -> None:
        start = time.monotonic()
        got[name] = (who.poll(wait=4), time.monotonic() - start)

    threads = [
        threading.Thread(target=poll, args=("node", node)),
        threading.Thread(target=poll, args=("idle", idle)),
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    api.send(InstanceIds=[node.id])
    threads[0].join(6)
    invocations, took = got["node"]
    assert len(invocations) == 1 and took < 3  # woken, not at the deadline
    threads[1].join(8)
    invocations, took = got["idle"]
    assert invocations == [] and took >= 3.5  # nothing for it: waits out its time
