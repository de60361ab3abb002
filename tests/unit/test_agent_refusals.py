"""A 4xx answer is final for the agent: a refused result is acknowledged (once more without
its report when the report was the problem), and a refused inventory upload is logged and
tried again at the next inventory interval, never in a loop and never fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patchwarden import wire
from patchwarden.agent.client import Refused
from patchwarden.agent.loop import Agent
from patchwarden.agent.register import AgentConfig
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package

OS = OsInfo("debian", "12", "bookworm", "Debian GNU/Linux 12", "debian", "DEBIAN", "Debian12")


def inventory(*names: str) -> Inventory:
    installed = tuple(InstalledPackage(Package(n, "all", "1.0")) for n in names)
    return Inventory(OS, "web1", "/", "deb", installed, ())


class RefusingApi:
    """A server that refuses inventory uploads with ``status`` and results with
    ``result_status`` (None: accepts them); polls find no work."""

    def __init__(self, status: int, result_status: int | None = None) -> None:
        self.status = status
        self.result_status = result_status
        self.calls: list[tuple[str, Any]] = []

    def _refuse(self, what: str, body: Any, status: int | None) -> None:
        self.calls.append((what, body))
        if status is not None:
            raise Refused(status, "too_large" if status == 413 else "invalid_request", what)

    def upload_full(self, body: wire.FullInventory) -> wire.InventoryAck:
        self._refuse("full", body, self.status)
        raise AssertionError("refused above")

    def upload_delta(self, body: wire.InventoryDelta) -> wire.InventoryAck:
        self._refuse("delta", body, self.status)
        raise AssertionError("refused above")

    def report(self, invocation_id: str, body: wire.InvocationResult) -> wire.ResultAck:
        self._refuse("report", body, self.result_status)
        return wire.ResultAck(True, body.status, "Success")

    def poll(self, wait: float) -> list[wire.Delivery]:
        self.calls.append(("poll", wait))
        return []

    def close(self) -> None:
        pass


def make_agent(tmp_path: Path, api: RefusingApi, monkeypatch: pytest.MonkeyPatch) -> Agent:
    config = AgentConfig(tmp_path / "state", "http://server", "n-1", str(tmp_path), "n-1.s")
    config.state_dir.mkdir()
    agent = Agent(config, client=api, inventory_interval=3600.0)  # type: ignore[arg-type]
    agent.uploader.facts = lambda: None  # type: ignore[assignment,return-value]

    class Collected:
        def collect(self) -> Inventory:
            return inventory("a", "b")

    monkeypatch.setattr("patchwarden.adapters.os.detect", lambda *a, **k: Collected())
    return agent


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_a_refused_inventory_upload_is_not_fatal_and_waits_for_the_next_interval(
    tmp_path: Path, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = RefusingApi(status)
    agent = make_agent(tmp_path, api, monkeypatch)
    try:
        agent.run(once=True)  # refused upload, then an empty poll: returns
        agent.step(0)
        agent.step(0)
    finally:
        agent.close()
    uploads = [what for what, _ in api.calls if what in ("full", "delta")]
    assert uploads == ["full"]
    assert [what for what, _ in api.calls].count("poll") == 3


def test_a_refused_delta_is_followed_by_a_full_upload_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = RefusingApi(400)
    agent = make_agent(tmp_path, api, monkeypatch)
    try:
        digest = wire.content_hash({"h": {}})
        agent.uploader.record.write_text(f'{{"content_hash": "{digest}", "item_hashes": ["h"]}}')
        agent.upload_inventory(inventory("a"))
        agent.upload_inventory(inventory("a"))
    finally:
        agent.close()
    assert [what for what, _ in api.calls] == ["delta", "full"]


@pytest.mark.parametrize("status", [400, 404, 409, 413])
def test_a_refused_result_is_acknowledged(
    tmp_path: Path, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = RefusingApi(409, result_status=status)
    agent = make_agent(tmp_path, api, monkeypatch)
    delivery = wire.Delivery("i-1", "c-1", "AWS-RunPatchBaseline", {"Operation": "Scan"})
    try:
        agent.journal.start(delivery)
        agent.journal.finish("i-1", wire.InvocationResult("Success", 0, "ok", {"big": "x"}))
        agent.flush()
        agent.flush()
        assert agent.journal.unreported() == []
    finally:
        agent.close()
    sent = [body for what, body in api.calls if what == "report"]
    if status in (400, 413):  # once more without the report: the status still arrives
        assert [b.report for b in sent] == [{"big": "x"}, None]
    else:
        assert len(sent) == 1
