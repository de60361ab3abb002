"""Events of the vulnerability assessment (issue 17): one ``finding.new`` per node and
round for new HIGH, CRITICAL or known-exploited findings, written with the findings;
``vulndb.missing`` and ``vulndb.stale`` once per database file (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fleet_helpers import Api
from test_server_findings import (  # noqa: F401  (fixtures used by name)
    PACKAGES,
    _driven_by_the_tests,
    assess,
    bare_api,
    full,
    upgrade_openssl,
    vapi,
    vulndb,
)

from patchwarden.server import vulns


@pytest.fixture(autouse=True)
def _fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vulns, "_missing", None)
    monkeypatch.setattr(vulns, "_freshness", None)


def events(api: Api, type_: str) -> list[Any]:
    found: list[Any] = api.ok("GET", "/api/v1/events", params={"type": type_})["events"]
    return found


def test_new_serious_findings_are_one_event_per_node_and_round(vapi: Api) -> None:  # noqa: F811
    node = vapi.register()
    assert node.call("PUT", "/api/v1/agent/inventory", json=full(PACKAGES)).status_code == 200
    assert assess(vapi) == 1
    (event,) = events(vapi, "finding.new")
    assert event["subject"] == node.id and event["severity"] == "warning"
    assert event["details"]["count"] == 2 and event["details"]["high"] == 2  # not the MEDIUM
    listed = {(f["vulnerability_id"], f["package"]) for f in event["details"]["findings"]}
    assert {p.split()[0] for _, p in listed} == {"openssl", "libssl3"}
    # the next round finds nothing new: no event; a fix closes findings: no event either
    upgrade_openssl(node, PACKAGES)
    vapi.clock.advance(60)
    assert assess(vapi) == 1
    assert len(events(vapi, "finding.new")) == 1
    # the database is a month old: announced once
    (stale,) = events(vapi, "vulndb.stale")
    assert "stale" in stale["summary"] and stale["severity"] == "warning"


def test_a_missing_database_is_announced_once(bare_api: Api) -> None:  # noqa: F811
    assert assess(bare_api) == 0
    assert assess(bare_api) == 0
    (missing,) = events(bare_api, "vulndb.missing")
    assert missing["severity"] == "error" and "missing.sqlite" in missing["subject"]
