"""Notification targets (issue 17): an admin setting checked when set; events go to the
targets whose type globs and minimum severity match, as JSON or Slack messages, sent by
the delivery round outside any transaction through the SSRF-safe webhook adapter to a
loopback receiver; failures retried with exponential backoff on the server's clock, given
up after the last attempt and listed; claims exclusive between replicas (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fleet_helpers import Api, error_of
from sqlalchemy import select

from patchwarden.adapters.storage import audit_log
from patchwarden.adapters.storage import events as outbox
from patchwarden.adapters.storage.event_tables import EventDeliveryRow, EventRow
from patchwarden.core.events import Severity, make
from patchwarden.core.notify import BACKOFF_CAP, MAX_ATTEMPTS, Outcome
from patchwarden.pipeline.notifications import HORIZON, RETENTION
from patchwarden.server import notifications
from patchwarden.server.db import Database
from patchwarden.server.notifications import SessionOutbox
from patchwarden.server.settings import ServerSettings

TARGETS = "/api/v1/notifications/targets"
DELIVERIES = "/api/v1/notifications/deliveries"


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_NOTIFY_INTERVAL", "0")


@dataclass
class Receiver:
    """A loopback HTTP endpoint: answers the scripted statuses (then 200), keeps what it
    got by path, and runs ``check`` on each request before answering."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    check: Callable[[dict[str, Any]], None] | None = None
    failures: list[BaseException] = field(default_factory=list)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for where, body in self.got if where == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            state.got.append((self.path, body))
            status = state.statuses.pop(0) if state.statuses else 200
            if state.check is not None:
                try:
                    state.check(body)
                except BaseException as exc:  # seen by the test, not by the server
                    state.failures.append(exc)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _db(api: Api) -> Database:
    db: Database = api.client.app.state.db
    return db


def _settings(api: Api) -> ServerSettings:
    conf: ServerSettings = api.client.app.state.settings
    return conf


def deliver(api: Api) -> dict[str, int]:
    return dict(notifications.deliver(_db(api), _settings(api)))


def set_targets(api: Api, *targets: dict[str, Any]) -> Any:
    body = {"targets": list(targets), "allow_http": True, "allow_private": True}
    return api.ok("PUT", TARGETS, json=body)


def emit(api: Api, type_: str, severity: Severity = Severity.INFO, subject: str = "s") -> None:
    event = make(type_, api.clock.now(), severity, subject, f"{type_} of {subject}")
    notifications.emit(_db(api), event)


def test_targets_get_matching_events_only_in_their_format(api: Api, receiver: Receiver) -> None:
    set_targets(
        api,
        {"name": "all-commands", "url": f"{receiver.url}/json", "events": ["command.*"]},
        {
            "name": "chat",
            "url": f"{receiver.url}/slack",
            "format": "slack",
            "events": ["window.*", "command.finished"],
            "min_severity": "error",
        },
    )
    deliver(api)  # the server's start was before: nothing matches it
    node = api.register()
    sent = api.send(InstanceIds=[node.id]).json()
    (inv,) = node.poll()
    node.report(inv["invocation_id"], "Failed")
    emit(api, "window.started", Severity.INFO)  # below the chat's minimum severity
    counts = deliver(api)
    assert counts["delivered"] == 3, counts
    as_json = receiver.bodies("/json")
    assert [b["type"] for b in as_json] == ["command.sent", "command.finished"]
    assert as_json[0]["details"]["command_id"] == sent["command_id"]
    assert isinstance(as_json[0]["id"], int) and as_json[0]["severity"] == "info"
    (slack,) = receiver.bodies("/slack")
    assert set(slack) == {"text", "blocks"}
    assert "\n" not in slack["text"] and "command.finished" in slack["text"]
    assert sent["command_id"] in slack["text"] and "[error]" in slack["text"]
    assert slack["blocks"][0]["text"]["text"] == slack["text"]
    assert deliver(api).get("delivered", 0) == 0  # each once
    listed = api.ok("GET", DELIVERIES, api.token("viewer"), params={"status": "delivered"})
    assert sorted(d["target"] for d in listed["deliveries"]) == [
        "all-commands",
        "all-commands",
        "chat",
    ]
    assert all("url" not in d for d in listed["deliveries"])


def test_a_failing_receiver_gets_the_event_after_backoff(api: Api, receiver: Receiver) -> None:
    set_targets(api, {"name": "flaky", "url": f"{receiver.url}/hook", "events": ["vulndb.*"]})
    receiver.statuses = [500, 500]
    emit(api, "vulndb.stale", Severity.WARNING)
    assert deliver(api)["retry"] == 1
    (pending,) = api.ok("GET", DELIVERIES, params={"status": "pending"})["deliveries"]
    assert (pending["attempts"], pending["last_error"]) == (1, "answered HTTP 500")
    assert pending["next_attempt_at"] == (api.clock.now() + timedelta(seconds=10)).isoformat()
    api.clock.advance(9)
    assert deliver(api).get("retry", 0) == 0 and len(receiver.got) == 1  # not yet
    api.clock.advance(1)
    assert deliver(api)["retry"] == 1  # the second attempt, 10 s after the first
    (pending,) = api.ok("GET", DELIVERIES, params={"status": "pending"})["deliveries"]
    assert pending["next_attempt_at"] == (api.clock.now() + timedelta(seconds=20)).isoformat()
    api.clock.advance(19)
    assert deliver(api).get("delivered", 0) == 0
    api.clock.advance(1)
    assert deliver(api)["delivered"] == 1  # the third attempt, 20 s after the second
    assert [b["type"] for b in receiver.bodies("/hook")] == ["vulndb.stale"] * 3
    (done,) = api.ok("GET", DELIVERIES, params={"status": "delivered"})["deliveries"]
    assert (done["attempts"], done["next_attempt_at"]) == (3, None)


def test_a_target_that_always_fails_ends_failed_and_visible(api: Api, receiver: Receiver) -> None:
    url = f"{receiver.url}/T000/very-secret-path?token=s3cr3t"
    set_targets(api, {"name": "broken", "url": url})
    receiver.statuses = [503] * 100
    deliver(api)  # the server's start
    emit(api, "command.sent")
    for _ in range(MAX_ATTEMPTS + 2):
        deliver(api)
        api.clock.advance(BACKOFF_CAP.total_seconds())
    assert len(receiver.got) == 2 * MAX_ATTEMPTS  # both events, each given up after the last
    viewer = api.token("viewer")
    failed = api.ok("GET", DELIVERIES, viewer, params={"status": "failed"})["deliveries"]
    assert len(failed) == 2
    shown = failed[0]
    assert shown["target"] == "broken" and shown["attempts"] == MAX_ATTEMPTS
    assert shown["last_error"] == "answered HTTP 503" and shown["next_attempt_at"] is None
    assert "secret" not in json.dumps(failed) and "s3cr3t" not in json.dumps(failed)
    gave_up = api.ok("GET", "/api/v1/events", viewer, params={"type": "notification.failed"})
    assert len(gave_up["events"]) == 2
    assert gave_up["events"][0]["details"]["target"] == "broken"
    assert "secret" not in json.dumps(gave_up)
    before = len(receiver.got)
    deliver(api)
    assert len(receiver.got) == before  # a failed notification is never notified
    assert error_of(api.call("GET", DELIVERIES, params={"status": "lost"})) == (
        400,
        "invalid_request",
    )


def test_nothing_is_sent_inside_a_transaction(api: Api, receiver: Receiver) -> None:
    """When the receiver is called, the command the event announces is committed and the
    claim too, and no transaction holds the outbox: a write of the delivery's own row
    (``NOWAIT`` on PostgreSQL; SQLite's single writer) succeeds from another session."""
    db = _db(api)
    set_targets(api, {"name": "check", "url": f"{receiver.url}/c", "events": ["command.sent"]})
    node = api.register()
    sent = api.send(InstanceIds=[node.id]).json()

    def committed(body: dict[str, Any]) -> None:
        with db.read() as session:
            seen = session.scalar(select(EventRow.event).where(EventRow.id == body["id"]))
        assert seen is not None and seen["details"]["command_id"] == sent["command_id"]
        with db.write() as session, session.begin():
            row = session.scalar(
                select(EventDeliveryRow)
                .where(EventDeliveryRow.event_id == body["id"])
                .with_for_update(nowait=True)
            )
            assert row is not None and row.claimed_by == "test-replica"
            audit_log.record(session, "test", "probe", "x", api.clock.now())

    receiver.check = committed
    assert deliver(api)["delivered"] == 1
    assert receiver.failures == []


def test_a_claim_is_one_replicas_until_its_lease_ends(api: Api, receiver: Receiver) -> None:
    db = _db(api)
    set_targets(api, {"name": "one", "url": f"{receiver.url}/x", "events": ["vulndb.*"]})
    emit(api, "vulndb.missing", Severity.ERROR)
    now = api.clock.now()

    def claim(store: Any, _: Any) -> Any:
        store.dispatch(store.targets(), now, now, 10)
        return store.claim(now, now + timedelta(minutes=2), "replica-a", 10)

    (mine,) = SessionOutbox(db).run(claim)  # replica a claimed it, then died
    assert deliver(api).get("delivered", 0) == 0 and receiver.got == []  # b keeps off
    api.clock.advance(120)
    assert deliver(api)["delivered"] == 1  # the lease ran out: b sends it
    late = SessionOutbox(db).run(
        lambda store, _: store.settle(mine, Outcome("delivered", 1), now, "replica-a")
    )
    assert late is False  # a's outcome comes too late to count


def test_old_events_are_pruned_unless_pending(api: Api, receiver: Receiver) -> None:
    db = _db(api)
    set_targets(api, {"name": "down", "url": f"{receiver.url}/d", "events": ["vulndb.stale"]})
    receiver.statuses = [500] * 100
    emit(api, "vulndb.stale", Severity.WARNING)
    emit(api, "vulndb.missing", Severity.ERROR)  # no target wants it
    deliver(api)
    with db.read() as session:
        kept = len(outbox.events(session))
    api.clock.advance(RETENTION.total_seconds() + 1)
    counts = deliver(api)
    assert counts["pruned"] == kept - 1  # all but the event still being retried
    with db.read() as session:
        (left,) = outbox.events(session)
    assert left["type"] == "vulndb.stale"


def test_targets_are_an_admin_setting_checked_when_set(api: Api) -> None:
    operator, viewer = api.token("operator"), api.token("viewer")
    good = {"name": "ops", "url": "https://hooks.example/T000/secret", "format": "slack"}
    assert api.call("PUT", TARGETS, operator, json={"targets": [good]}).status_code == 403
    for bad, words in (
        ({"url": "http://hooks.example/x"}, "https://"),
        ({"url": "ftp://hooks.example/x"}, "must start with"),
        ({"url": "https://10.0.0.8/x"}, "private range"),
        ({"url": "https://[::1]/x"}, "private range"),
        ({"format": "xml"}, "format must be one of json, slack"),
        ({"events": ["windows.*"]}, "matches no event type"),
        ({"events": ["window.[a]"]}, "event glob"),
        ({"events": []}, "events is a list"),
        ({"min_severity": "fatal"}, "min_severity must be one of"),
        ({"name": "no spaces"}, "letters, digits"),
        ({"secret": "x"}, "unknown field"),
    ):
        response = api.call("PUT", TARGETS, json={"targets": [{**good, **bad}]})
        assert error_of(response) == (400, "invalid_request"), response.text
        message = response.json()["error"]["message"]
        assert words in message and "\n" not in message, message
    twice = api.call("PUT", TARGETS, json={"targets": [good, good]})
    assert "used twice" in twice.json()["error"]["message"]
    answer = api.ok("PUT", TARGETS, json={"targets": [good]})
    assert answer["targets"] == [
        {**good, "events": ["*"], "min_severity": "info"},
    ]
    assert api.ok("GET", TARGETS, viewer)["targets"][0]["url"] == "https://hooks.example/…"
    assert api.ok("GET", TARGETS)["targets"][0]["url"] == good["url"]
    (entry,) = api.ok("GET", "/api/v1/audit", params={"action": "notifications.targets.set"})
    assert "secret" not in json.dumps(entry)
    private = {"name": "local", "url": "http://127.0.0.1:9/x"}
    body = {"targets": [private], "allow_http": True, "allow_private": True}
    assert api.ok("PUT", TARGETS, json=body)["targets"][0]["url"] == private["url"]


def test_a_backlog_is_not_replayed(api: Api, receiver: Receiver) -> None:
    """Events written while notifications were off are not sent a day later."""
    set_targets(api, {"name": "late", "url": f"{receiver.url}/l", "events": ["vulndb.*"]})
    emit(api, "vulndb.missing", Severity.ERROR)
    api.clock.advance(HORIZON.total_seconds() + 1)
    emit(api, "vulndb.stale", Severity.WARNING)
    assert deliver(api)["delivered"] == 1
    assert [b["type"] for b in receiver.bodies("/l")] == ["vulndb.stale"]


def test_the_console_shows_events_and_the_deliveries_given_up(api: Api, receiver: Receiver) -> None:
    from console_helpers import signed_in

    set_targets(api, {"name": "broken", "url": f"{receiver.url}/x?token=s3cr3t"})
    receiver.statuses = [503] * 100
    emit(api, "vulndb.stale", Severity.WARNING)
    for _ in range(MAX_ATTEMPTS + 1):
        deliver(api)
        api.clock.advance(BACKOFF_CAP.total_seconds())
    html = signed_in(api).get("/events").text
    assert "Notifications not delivered" in html and "broken" in html
    assert "answered HTTP 503" in html and "s3cr3t" not in html
    assert f">{MAX_ATTEMPTS}<" in html
    assert "vulndb.stale" in html and "notification.failed" in html
    only = signed_in(api).get("/events", params={"type": "vulndb.*"}).text
    recent = only.split("Recent events", 1)[1]
    assert "vulndb.stale" in recent and "notification.failed" not in recent
