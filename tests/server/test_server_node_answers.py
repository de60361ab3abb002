"""What ``get compliance NODE`` and ``get findings`` need from the API: the node's name with
its compliance, and whether the server has a vulnerability database at all (without one an
empty list of findings means "not assessed", not "none found"; the server warns once)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fleet_helpers import Api, scan_report

from patchwarden.server import vulns
from patchwarden.server.settings import ServerSettings


def test_node_compliance_names_the_node(api: Api) -> None:
    node = api.register(name="web-1")
    api.send(InstanceIds=[node.id])
    (inv,) = node.poll()
    assert node.report(inv["invocation_id"], report=scan_report()).status_code == 200
    shown = api.ok("GET", f"/api/v1/compliance/{node.id}")
    assert shown["node_name"] == "web-1"
    assert shown["operating_system"] == "DEBIAN"
    assert [p["state"] for p in shown["patches"] if p["name"] == "pkg0"] == ["MISSING"]


def test_findings_say_when_the_server_has_no_vulnerability_database(api: Api) -> None:
    node = api.register()
    fleet = api.ok("GET", "/api/v1/findings")
    assert fleet["findings"] == []
    assert fleet["vulnerability_database"]["available"] is False
    assert "no vulnerability database" in fleet["vulnerability_database"]["message"]
    assert api.ok("GET", f"/api/v1/nodes/{node.id}/findings")["findings"] == []
    database = api.ok("GET", "/api/v1/findings/database")
    assert {k: database[k] for k in ("available", "message")} == fleet["vulnerability_database"]
    assert database["feeds"] == [] and database["updates"] == {"every_seconds": None, "last": None}


def test_missing_database_is_warned_about_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from patchwarden.adapters.storage import make_engine, upgrade
    from patchwarden.server.db import Database

    monkeypatch.setattr(vulns, "_missing", None)
    url = f"sqlite:///{tmp_path / 'server.db'}"
    settings = ServerSettings(database_url=url, vulndb_path=tmp_path / "none.sqlite")
    engine = make_engine(url)
    upgrade(engine)
    db = Database.open(engine)
    caplog.set_level(logging.WARNING, logger="patchwarden.server.vulns")
    for _ in range(3):
        assert vulns.assess_pending(db, settings) == 0
    warned = [
        r
        for r in caplog.records
        if r.name == "patchwarden.server.vulns" and "no vulnerability database" in r.getMessage()
    ]
    assert len(warned) == 1
    with db.read() as session:  # and one vulndb.missing event
        from patchwarden.adapters.storage.events import events

        assert [e["type"] for e in events(session)] == ["vulndb.missing"]
    engine.dispose()
