"""The server's edge: body limits before authentication and parsing, JSON nesting, NUL
characters and a database that went away (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fleet_helpers import DEBIAN_FACTS, Api, bearer, error_of
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from patchwarden.server.db import connected

MiB = 1024 * 1024


# -- a raw ASGI call that counts what the application read of the body ------------------


class Sent:
    """What the app answered, and how many body bytes it asked for."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.read = 0

    def json(self) -> Any:
        return json.loads(self.body)


def raw_call(
    api: Api,
    method: str,
    path: str,
    chunks: Iterable[bytes],
    headers: dict[str, str] | None = None,
) -> Sent:
    """``method path`` straight into the ASGI app (in the TestClient's event loop), the
    body streamed from ``chunks``; ``Sent.read`` counts the bytes the app received."""
    sent = Sent()
    source: Iterator[bytes] = iter(chunks)
    pending: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            nxt = next(source, None)
            if nxt is None:
                return {"type": "http.disconnect"}
            pending.append(nxt)
        chunk = pending.pop()
        sent.read += len(chunk)
        upcoming = next(source, None)
        if upcoming is not None:
            pending.append(upcoming)
        return {"type": "http.request", "body": chunk, "more_body": upcoming is not None}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        await api.client.app(scope, receive, send)

    api.client.portal.call(call)
    return sent


def megabytes(total: int, chunk: bytes) -> Iterator[bytes]:
    """``total`` chunks of ``chunk``: a JSON document ``{"pad": "aaaa…"}`` streamed."""
    yield b'{"pad": "'
    for _ in range(total):
        yield chunk
    yield b'"}'


# -- sizes ------------------------------------------------------------------------------


def test_a_registration_larger_than_its_limit_is_413_too_large(api: Api) -> None:
    body = {"activation_id": "a", "activation_code": "b", "facts": {"hostname": "x" * 200_000}}
    r = api.client.post("/api/v1/register", json=body)
    assert error_of(r) == (413, "too_large")


def test_a_content_length_over_the_limit_is_refused_before_reading(api: Api) -> None:
    sent = raw_call(
        api,
        "POST",
        "/api/v1/register",
        megabytes(20, b"a" * MiB),
        {"content-type": "application/json", "content-length": str(20 * MiB + 11)},
    )
    assert sent.status == 413, sent.body
    assert sent.json()["error"]["code"] == "too_large"
    assert sent.read == 0


def test_a_streamed_body_is_cut_off_at_the_limit(api: Api) -> None:
    """No Content-Length (chunked): the body is read only until it passes the limit."""
    node = api.register()
    sent = raw_call(
        api,
        "PUT",
        "/api/v1/agent/inventory",
        megabytes(64, b"a" * MiB),
        {"content-type": "application/json", **bearer(node.credential)},
    )
    assert sent.status == 413, sent.body
    assert sent.json()["error"]["code"] == "too_large"
    assert sent.read <= 33 * MiB


def test_an_unauthenticated_upload_is_401_without_its_body_being_read(api: Api) -> None:
    chunk = b"a" * MiB
    for headers in ({}, bearer("nosuchnode.secret"), bearer("pwt_nosuch.secret")):
        tracemalloc.start()
        try:
            sent = raw_call(
                api,
                "PUT",
                "/api/v1/agent/inventory",
                megabytes(10, chunk),
                {"content-type": "application/json", **headers},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sent.status in (401, 403, 413), sent.body
        assert sent.read < 64 * 1024, sent.read
        assert peak < 4 * MiB, peak


def test_a_valid_upload_still_goes_through(api: Api) -> None:
    node = api.register()
    items = [
        {"kind": "installed", "name": f"pkg{i}", "arch": "amd64", "version": "1.0"}
        for i in range(3)
    ]
    from patchwarden import wire

    hashed = {wire.item_hash(i): i for i in items}
    body = {"content_hash": wire.content_hash(hashed), "items": items, "facts": DEBIAN_FACTS}
    r = node.call("PUT", "/api/v1/agent/inventory", json=body)
    assert r.status_code == 200, r.text


# -- JSON nesting -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 5000, 200_000])
def test_deeply_nested_json_is_400_invalid_request(api: Api, depth: int) -> None:
    node = api.register()
    nested = "[" * depth + "]" * depth
    text = '{"status": "Success", "output": "", "report": {"x": ' + nested + "}}"
    r = node.call(
        "POST",
        "/api/v1/agent/invocations/whatever",
        content=text.encode(),
        headers={"content-type": "application/json"},
    )
    assert error_of(r) == (400, "invalid_request"), r.text
    assert "nest" in r.json()["error"]["message"]


def test_brackets_inside_strings_are_not_nesting(api: Api) -> None:
    r = api.client.post(
        "/api/v1/register",
        json={"activation_id": "[" * 500 + '\\"{', "activation_code": "]" * 500},
    )
    status, _ = error_of(r)
    assert "nest" not in r.json()["error"]["message"]
    assert status != 500


# -- NUL characters ---------------------------------------------------------------------


def _nul_requests(api: Api) -> list[tuple[str, str, dict[str, Any], str | None]]:
    node = api.register()
    admin = api.admin
    return [
        ("GET", "/api/v1/nodes/a%00b", {}, admin),
        ("GET", "/api/v1/audit?actor=a%00b", {}, admin),
        ("GET", "/api/v1/commands?status=%00", {}, admin),
        (
            "POST",
            "/api/v1/register",
            {"json": {"activation_id": "a\u0000", "activation_code": "b"}},
            None,
        ),
        (
            "POST",
            "/api/v1/activations",
            {"json": {"registration_limit": 1, "tags": {"k\u0000": "v"}}},
            admin,
        ),
        (
            "POST",
            "/api/v1/commands",
            {"json": {"Parameters": {"Operation": "Scan"}, "Comment": "x\u0000"}},
            admin,
        ),
        (
            "PUT",
            "/api/v1/agent/inventory",
            {
                "json": {
                    "content_hash": "x",
                    "items": [{"kind": "installed", "name": "a\u0000", "arch": "all"}],
                }
            },
            node.credential,
        ),
        (
            "POST",
            "/api/v1/agent/invocations/i-1",
            {"json": {"status": "Success", "output": "out\u0000put"}},
            node.credential,
        ),
        (
            "POST",
            "/api/v1/register",
            {"content": b'{"activation_id": "a\x00", "activation_code": "b"}'},
            None,
        ),
    ]


def test_nul_characters_are_400_invalid_request_on_every_backend(api: Api) -> None:
    for method, url, kw, token in _nul_requests(api):
        headers = bearer(token) if token else {}
        if "content" in kw:
            headers["content-type"] = "application/json"
        r = api.client.request(method, url, headers=headers, **kw)
        assert error_of(r) == (400, "invalid_request"), (method, url, r.text)
        assert "NUL" in r.json()["error"]["message"], (url, r.text)


def test_an_escaped_backslash_before_u0000_is_not_a_nul(api: Api) -> None:
    r = api.client.post(
        "/api/v1/register",
        content=b'{"activation_id": "a\\\\u0000", "activation_code": "b"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code != 500, r.text
    assert "NUL" not in r.json()["error"]["message"]


# -- the database going away -------------------------------------------------------------


def _broken_sessions(db_url: str) -> sessionmaker[Session]:
    """Sessions over a database that is not there (connecting raises OperationalError)."""
    if db_url.startswith("sqlite"):
        url = "sqlite:////nonexistent-patchwarden-dir/nothing/server.db"
        engine = create_engine(url)
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
        engine = create_engine(url, connect_args={"connect_timeout": 2})
    return sessionmaker(engine)


class FailingFirst:
    """A session factory whose first ``failures`` sessions opened for a request cannot
    connect.  Only the requests' sessions count (opened by :func:`connected`): the app's
    background loops (the command sweep every 5 s, the check-in writer) open theirs from
    the same factory and may do so while a test runs."""

    def __init__(self, good: sessionmaker[Session], bad: sessionmaker[Session], failures: int):
        self.good = good
        self.bad = bad
        self.failures = failures
        self.calls = 0

    def __call__(self) -> Session:
        if sys._getframe(1).f_code is not connected.__code__:
            return self.good()
        self.calls += 1
        return self.bad() if self.calls <= self.failures else self.good()


def test_a_dropped_connection_is_retried_once(
    api: Api, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = api.client.app.state.db
    flaky = FailingFirst(db.write, _broken_sessions(db_url), 1)
    monkeypatch.setattr(db, "write", flaky)
    made = api.ok("POST", "/api/v1/tokens", json={"name": "after-a-blip", "role": "viewer"})
    assert made["token"]
    assert flaky.calls == 2


def test_a_database_that_stays_away_is_503_unavailable(
    api: Api, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = api.client.app.state.db
    monkeypatch.setattr(db, "write", FailingFirst(db.write, _broken_sessions(db_url), 10**6))
    r = api.call("POST", "/api/v1/tokens", json={"name": "never", "role": "viewer"})
    assert error_of(r) == (503, "unavailable"), r.text
    assert r.headers.get("retry-after")


def test_connections_closed_under_the_pool_are_replaced(api: Api) -> None:
    """The pool's connections die (a database restart, an idle timeout): the next request
    notices at checkout and reconnects."""
    api.ok("POST", "/api/v1/tokens", json={"name": "warm", "role": "viewer"})
    engine = api.client.app.state.db.engine
    pool = engine.pool
    closed = 0
    for record in list(pool._pool.queue):
        if record.dbapi_connection is not None:
            record.dbapi_connection.close()
            closed += 1
    assert closed
    made = api.ok("POST", "/api/v1/tokens", json={"name": "after-restart", "role": "viewer"})
    assert made["token"]
