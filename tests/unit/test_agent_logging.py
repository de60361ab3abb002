"""The agent logs one INFO line per ended invocation (ids, operation, status, response
code, duration, summary counts) and keeps the HTTP request line of every poll at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from patchwarden import wire
from patchwarden.agent.execute import Outcome
from patchwarden.agent.loop import Agent
from patchwarden.agent.register import AgentConfig


class QuietApi:
    """A server accepting every result; polls find no work."""

    def __init__(self) -> None:
        self.reported: list[str] = []

    def report(self, invocation_id: str, body: wire.InvocationResult) -> wire.ResultAck:
        self.reported.append(invocation_id)
        return wire.ResultAck(True, body.status, body.status)

    def poll(self, wait: float) -> list[wire.Delivery]:
        return []

    def close(self) -> None:
        pass


def delivery(operation: str = "Install") -> wire.Delivery:
    return wire.Delivery("inv-1", "cmd-1", "AWS-RunPatchBaseline", {"Operation": operation})


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    config = AgentConfig(tmp_path / "state", "http://server", "n-1", str(tmp_path), "n-1.s")
    config.state_dir.mkdir()
    made = Agent(config, client=QuietApi())  # type: ignore[arg-type]
    made.upload_inventory = lambda inventory=None: None  # type: ignore[method-assign]
    yield made
    made.close()


def ended(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "patchwarden.agent" and "inv-1" in r.message]


def test_an_ended_invocation_is_one_info_line(
    agent: Agent, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = wire.InvocationResult("Failed", 1, "Install: NON_COMPLIANT", {"x": 1})
    outcome = Outcome(result, None, {"INSTALLED": 3, "FAILED": 1, "MISSING": 0})
    monkeypatch.setattr(agent.executor, "run", lambda d: outcome)
    with caplog.at_level(logging.INFO, logger="patchwarden.agent"):
        agent.execute(delivery())
    (line,) = ended(caplog)
    assert line.levelno == logging.INFO
    text = line.getMessage()
    for part in ("inv-1", "cmd-1", "Install", "Failed", "response code 1", "INSTALLED 3"):
        assert part in text, text
    assert "FAILED 1" in text and "MISSING" not in text and " s: " in text


def test_an_invocation_failing_early_logs_why(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    bad = delivery("Scan")._replace(baseline={"kind": "NotABaseline"})
    with caplog.at_level(logging.INFO, logger="patchwarden.agent"):
        agent.execute(bad)
    (line,) = ended(caplog)
    assert "Scan Failed (response code 2)" in line.getMessage()


@pytest.fixture
def http_levels() -> Iterator[None]:
    saved = {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _request() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport) as client:
        client.get("http://server/api/v1/agent/commands")


@pytest.mark.usefixtures("http_levels")
def test_http_request_lines_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    from patchwarden.cli.agent import configure_logging

    caplog.set_level(logging.DEBUG)
    configure_logging("info")
    _request()
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    configure_logging("debug")
    _request()
    assert [r for r in caplog.records if r.name == "httpx" and "HTTP Request" in r.getMessage()]
