"""The fleet's client commands against a real server process (SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fleet_processes import Server, exe, free_port
from sandbox import baseline_document, write_baseline

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def pw(server: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATCHWARDEN_SERVER": server, "PATCHWARDEN_TOKEN": token}
    return subprocess.run([exe(), *args], env=env, capture_output=True, text=True, check=False)


def test_client_commands(tmp_path: Path) -> None:
    server = Server(tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}")
    try:
        admin = server.admin_token
        made = pw(
            server.url,
            admin,
            "token",
            "create",
            "--role",
            "operator",
            "--name",
            "ops",
            "-o",
            "json",
        )
        assert made.returncode == 0, made.stderr
        operator = json.loads(made.stdout)["token"]
        act = pw(
            server.url,
            admin,
            "activation",
            "create",
            "--limit",
            "2",
            "--tag",
            "Env=prod",
            "-o",
            "json",
        )
        assert json.loads(act.stdout)["registration_limit"] == 2
        denied = pw(server.url, operator, "activation", "create")
        assert denied.returncode == 2 and "admin role" in denied.stderr

        docs = tmp_path / "docs"
        docs.mkdir()
        write_baseline(docs / "a.yaml", baseline_document("web-baseline"))
        applied = pw(server.url, operator, "apply", "-f", str(docs))
        assert applied.stdout.strip() == "PatchBaseline web-baseline created", applied.stderr
        listed = pw(server.url, operator, "get", "baselines")
        assert "web-baseline" in listed.stdout and "DEBIAN" in listed.stdout
        described = pw(server.url, operator, "describe", "PatchBaseline", "web-baseline")
        assert "OperatingSystem: DEBIAN" in described.stdout
        assert pw(server.url, operator, "get", "nodes").stdout.split() == [
            "NODE_ID",
            "NAME",
            "PING_STATUS",
            "PATCH_GROUP",
            "HOSTNAME",
        ]
        assert pw(server.url, operator, "get", "compliance", "-o", "json").stdout.strip() == "[]"
        sent = pw(
            server.url, operator, "command", "send", "--operation", "Scan", "--all", "-o", "json"
        )
        command = json.loads(sent.stdout)
        assert command["status_details"] == "No Instances In Tag"
        shown = pw(server.url, operator, "command", "get", command["command_id"])
        assert "Failed" in shown.stdout
        deleted = pw(server.url, operator, "delete", "PatchBaseline", "web-baseline")
        assert deleted.returncode == 0
        unknown = pw(server.url, operator, "get", "gadgets")
        assert unknown.returncode == 2
    finally:
        server.stop()
    gone = pw(f"http://127.0.0.1:{free_port()}", "x", "get", "nodes")
    assert gone.returncode == 3 and "cannot reach the server" in gone.stderr


def test_update_agent_is_a_rate_controlled_command(tmp_path: Path) -> None:
    import patchwarden

    server = Server(tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}")
    try:
        admin = server.admin_token
        sent = pw(
            server.url,
            admin,
            *("command", "update-agent", "--all", "--max-concurrency", "10%", "-o", "json"),
        )
        assert sent.returncode == 0, sent.stderr
        command = json.loads(sent.stdout)
        stored = server.api(admin).get(f"/api/v1/commands/{command['command_id']}").json()
        assert stored["document_name"] == "AWS-UpdateSSMAgent"
        assert stored["parameters"]["version"] == patchwarden.__version__
        assert stored["max_concurrency"] == "10%"
        back = pw(
            server.url,
            admin,
            *("command", "update-agent", "--version", "9.9.9", "--allow-downgrade", "--all"),
        )
        assert back.returncode == 2 and "9.9.9" in back.stderr  # the server holds no 9.9.9
        assert len(back.stderr.strip().splitlines()) == 1
        nobody = pw(server.url, admin, "command", "update-agent")
        assert nobody.returncode == 2 and "name the nodes" in nobody.stderr
    finally:
        server.stop()


def test_tag_add_and_remove(tmp_path: Path) -> None:
    import httpx

    server = Server(tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}")
    try:
        admin = server.admin_token
        act = json.loads(pw(server.url, admin, "activation", "create", "-o", "json").stdout)
        node = httpx.post(
            f"{server.url}/api/v1/register",
            json={
                "activation_id": act["activation_id"],
                "activation_code": act["activation_code"],
                "tags": {"Env": "dev"},
            },
        ).json()["node_id"]
        added = pw(server.url, admin, "tag", "add", node, "Env=prod", "Patch Group=web")
        assert added.returncode == 0, added.stderr
        assert added.stdout.splitlines() == ["Env=prod", "Patch Group=web"]
        wrong = pw(server.url, admin, "tag", "remove", node, "Env=dev")
        assert wrong.returncode == 2 and "is 'prod'" in wrong.stderr
        removed = pw(server.url, admin, "tag", "remove", node, "Env", "-o", "json")
        assert removed.returncode == 0, removed.stderr
        shown = json.loads(removed.stdout)
        assert shown["tags"] == {"Patch Group": "web"} and shown["patch_group"] == "web"
        assert pw(server.url, admin, "tag", "add", node, "nokey").returncode == 2
    finally:
        server.stop()


def test_tokens_and_activations_from_the_command_line(tmp_path: Path) -> None:
    """`token list|revoke` exist (they were API-only) and `delete activations ID` works as
    `delete --help` says (it expires the activation: registered nodes stay, as on AWS)."""
    server = Server(tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}")
    try:
        admin = server.admin_token
        made = pw(
            server.url, admin, "token", "create", "--role", "viewer", "--name", "v", "-o", "json"
        )
        viewer = json.loads(made.stdout)
        listed = pw(server.url, admin, "token", "list", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        assert {t["name"] for t in json.loads(listed.stdout)} >= {"initial-admin", "v"}
        assert viewer["token"] not in listed.stdout  # never the secrets
        revoked = pw(server.url, admin, "token", "revoke", viewer["id"])
        assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
        gone = pw(server.url, viewer["token"], "get", "nodes")
        assert gone.returncode == 2, gone.stderr

        act = json.loads(pw(server.url, admin, "activation", "create", "-o", "json").stdout)
        deleted = pw(server.url, admin, "delete", "activations", act["activation_id"])
        assert deleted.returncode == 0, deleted.stderr
        left = json.loads(pw(server.url, admin, "get", "activations", "-o", "json").stdout)
        (entry,) = [a for a in left if a["activation_id"] == act["activation_id"]]
        assert entry["expired"] is True  # AWS DeleteActivation: no new registrations
    finally:
        server.stop()


def test_db_update_offline_points_at_db_import(tmp_path: Path) -> None:
    env = {**os.environ, "PATCHWARDEN_HOME": str(tmp_path)}
    argv = [exe(), "db", "update", "--feed", "debian-tracker"]
    argv += ["--url", "debian-tracker=https://127.0.0.1:9/tracker.json"]  # nothing listens
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 3, done.stderr
    assert "patchwarden db import" in done.stderr and len(done.stderr.strip().splitlines()) == 1
