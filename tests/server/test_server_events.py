"""Application events (issue 17): recorded in the transaction of what they announce (a
command sent and finished, a window run, a remediation queued, started and finished),
logged only once it committed, listed by ``GET /api/v1/events``; the JSON log format
(SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Api, error_of
from governance_helpers import TAG_RULE, TAG_RUNBOOK, apply
from window_helpers import run_all, tick, window

from patchwarden.adapters.storage import events as outbox
from patchwarden.core.events import Severity, make
from patchwarden.errors import InputError
from patchwarden.server import governance
from patchwarden.server.db import Database
from patchwarden.server.logs import JsonFormatter, format_from_env, log_config


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_NOTIFY_INTERVAL", "0")


def _db(api: Api) -> Database:
    db: Database = api.client.app.state.db
    return db


def events(api: Api, *types: str, token: str | None = None, **params: Any) -> list[Any]:
    found = api.ok("GET", "/api/v1/events", token, params={"type": list(types), **params})
    listed: list[Any] = found["events"]
    return listed


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What ``patchwarden.events`` logs, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("patchwarden.events")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def logged(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_server_start_is_an_event(api: Api) -> None:
    (started,) = events(api, "server.started")
    assert started["subject"] == "test-replica" and started["severity"] == "info"
    assert started["details"]["replica"] == "test-replica"


def test_a_command_sent_and_finished(api: Api, lines: io.StringIO) -> None:
    node = api.register()
    sent = api.send(InstanceIds=[node.id]).json()
    (event,) = events(api, "command.sent")
    assert event["subject"] == sent["command_id"]
    assert event["details"] == {
        "command_id": sent["command_id"],
        "document": "AWS-RunPatchBaseline",
        "operation": "Scan",
        "target_count": 1,
        "actor": "token:initial-admin",
    }
    assert events(api, "command.finished") == []
    (inv,) = node.poll()
    assert node.report(inv["invocation_id"], "Failed").status_code < 300
    (finished,) = events(api, "command.finished")
    assert finished["severity"] == "error"
    assert finished["details"]["status"] == "Failed"
    assert finished["details"]["error_count"] == 1
    api.ok("GET", f"/api/v1/commands/{sent['command_id']}")  # refreshed again: no second event
    assert len(events(api, "command.finished")) == 1
    # each was logged once its transaction committed, with the event's fields
    by_type = {line["type"]: line for line in logged(lines)}
    assert by_type["command.sent"]["logger"] == "patchwarden.events"
    assert by_type["command.sent"]["level"] == "info"
    assert by_type["command.sent"]["details"]["command_id"] == sent["command_id"]
    assert by_type["command.finished"]["level"] == "error"
    assert by_type["command.finished"]["summary"] in by_type["command.finished"]["message"]
    assert by_type["command.sent"]["ts"].endswith("+00:00")


def test_a_window_run_starts_and_finishes(api: Api) -> None:
    nodes = [api.register(tags={"Role": "web"}) for _ in range(2)]
    api.ok("POST", "/api/v1/windows", json=window())
    tick(api, 1)
    (started,) = events(api, "window.started")
    assert started["details"]["window"] == "patch-web"
    assert started["details"]["target_count"] == 2
    assert events(api, "window.finished") == []
    run_all(nodes)
    tick(api)
    (finished,) = events(api, "window.f*")
    assert finished["details"]["status"] == "SUCCESS"
    assert finished["subject"] == started["subject"]  # the execution id
    both = events(api, "window.*")
    assert [e["type"] for e in both] == ["window.finished", "window.started"]  # newest first
    # each wave phase is a command of the scheduler's, announced like any other
    assert all(e["details"]["actor"] == "scheduler" for e in events(api, "command.sent"))


def test_a_remediation_queued_started_and_finished(api: Api) -> None:
    node = api.register()
    apply(api, TAG_RUNBOOK, TAG_RULE)
    governance.tick(_db(api), api.clock.now())
    (queued,) = events(api, "remediation.queued")
    assert queued["subject"] == f"patch-group-tag/{node.id}"
    assert queued["details"]["planned_start"]  # when the automatic run is due
    assert queued["details"]["rule"] == "patch-group-tag"
    (started,) = events(api, "remediation.started")
    assert started["details"]["runbook"] == "tag-default"
    (finished,) = events(api, "remediation.finished")
    assert finished["details"]["status"] == "SUCCEEDED"


def test_an_event_rolls_back_with_its_transaction(api: Api, lines: io.StringIO) -> None:
    db = _db(api)
    before = len(events(api))
    event = make("command.sent", api.clock.now(), Severity.INFO, "cmd-x", "never happened")
    with pytest.raises(RuntimeError), db.write() as session, session.begin():
        outbox.record(session, event)
        session.flush()
        raise RuntimeError("the use case failed after emitting")
    assert len(events(api)) == before
    assert logged(lines) == []  # nothing is logged for what did not happen
    with db.write() as session, session.begin():
        outbox.record(session, event)
    assert events(api, "command.sent")[0]["summary"] == "never happened"
    (line,) = logged(lines)
    assert line["type"] == "command.sent" and isinstance(line["id"], int)


def test_events_are_paged_and_filtered(api: Api) -> None:
    db = _db(api)
    start = api.clock.now()
    with db.write() as session, session.begin():
        for i in range(5):
            api.clock.advance(60)
            at = api.clock.now()
            outbox.record(session, make("window.started", at, Severity.INFO, f"w{i}", f"w {i}"))
            outbox.record(session, make("vulndb.stale", at, Severity.WARNING, "db", "old"))
    viewer = api.token("viewer")
    page = api.ok("GET", "/api/v1/events", viewer, params={"type": "window.*", "limit": 2})
    assert [e["subject"] for e in page["events"]] == ["w4", "w3"]
    rest = api.ok(
        "GET", "/api/v1/events", viewer, params={"type": "window.*", "before": page["next"]}
    )
    assert [e["subject"] for e in rest["events"]] == ["w2", "w1", "w0"] and rest["next"] is None
    both = events(api, "window.started,vulndb.stale", since=(start.replace(minute=3)).isoformat())
    assert len(both) == 6  # minutes 3, 4 and 5
    assert error_of(api.call("GET", "/api/v1/events", params={"since": "yesterday"})) == (
        400,
        "invalid_request",
    )
    assert api.call("GET", "/api/v1/events", "").status_code == 401


def test_log_format_option() -> None:
    assert format_from_env(None, {}) == "text"
    assert format_from_env(None, {"PATCHWARDEN_LOG_FORMAT": "json"}) == "json"
    assert format_from_env("text", {"PATCHWARDEN_LOG_FORMAT": "json"}) == "text"
    with pytest.raises(InputError, match="text or json"):
        format_from_env(None, {"PATCHWARDEN_LOG_FORMAT": "xml"})
    config = log_config("json", "info")
    assert config["loggers"]["patchwarden"]["level"] == "INFO"
    record = logging.LogRecord("patchwarden.x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["message"]) == ("warning", "patchwarden.x", "a b")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_server_logs_json_lines(tmp_path: Path) -> None:
    """``patchwarden server --log-format json``: every line on standard error is a JSON
    object; the start is an application event with its fields."""
    port = _free_port()
    env = {
        **os.environ,
        "PATCHWARDEN_HOME": str(tmp_path),
        "PATCHWARDEN_SCHEDULER_INTERVAL": "0",
        "PATCHWARDEN_NOTIFY_INTERVAL": "0",
    }
    argv = [sys.executable, "-m", "patchwarden", "server", "--port", str(port)]
    argv += ["--log-format", "json", "--database-url", f"sqlite:///{tmp_path / 'server.db'}"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    rows = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert rows, err
    assert all({"ts", "level", "logger", "message"} <= set(row) for row in rows)
    (started,) = [row for row in rows if row.get("type") == "server.started"]
    assert started["logger"] == "patchwarden.events"
    assert started["severity"] == "info" and started["details"]["version"]
    token = out.decode().split("shown only once): ", 1)[1].split()[0]
    assert token not in err.decode()  # the one place it is shown is standard output
