"""Webhooks of runbook ``notify`` steps go out only after the transaction that queued them
committed (never from inside it, never after a rollback), and their outcome is reported
back to the execution — from the tick and from a route (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fleet_helpers import Api, error_of
from governance_helpers import apply, remediation, rule, runbook
from sqlalchemy import func, select

from patchwarden.adapters.storage.governance_tables import RunbookExecutionRow
from patchwarden.core.runbook.destinations import WebhookTarget
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import operations, runbooks
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.delivery import committed
from patchwarden.pipeline.governance.records import Delivery
from patchwarden.server import governance
from patchwarden.server.db import Database
from patchwarden.server.governance.api import notifier
from patchwarden.server.governance.wiring import SessionUnitOfWork

HOOK = "page-hook"
"""A webhook destination (``https://hooks.example/page``), set up by :func:`_destination`."""
PAGE = runbook("page", [{"name": "tell", "action": "notify", "inputs": {"Destination": HOOK}}])


@pytest.fixture(autouse=True)
def _no_background_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWARDEN_GOVERNANCE_INTERVAL", "0")
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")


@pytest.fixture(autouse=True)
def _destination(api: Api) -> None:
    body = {"WebhookDestinations": {HOOK: "https://hooks.example/page"}}
    api.ok("PUT", "/api/v1/governance/settings", json=body)


def executions(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(RunbookExecutionRow)) or 0)


@dataclass
class CommittedOnly:
    """A notifier that checks, from a session of its own, that what queued the webhook
    is committed: the execution is visible and waits for this very webhook."""

    db: Database
    sent: list[tuple[str, Mapping[str, object]]] = field(default_factory=list)

    def send(self, target: WebhookTarget, payload: Mapping[str, object]) -> Delivery:
        self.sent.append((target.name, dict(payload)))
        with self.db.read() as session:
            waiting = session.scalars(select(RunbookExecutionRow.status)).all()
        assert waiting and all(status == "InProgress" for status in waiting), waiting
        return Delivery(status_code=202)


def _db(api: Api) -> Database:
    db: Database = api.client.app.state.db
    return db


def test_the_tick_sends_after_the_commit_and_reports_the_outcome(api: Api) -> None:
    node = api.register()
    owner = rule(
        "owned",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation("page"),
        },
    )
    apply(api, PAGE, owner)
    sender = CommittedOnly(_db(api))
    counts = governance.tick(_db(api), api.clock.now(), sender)
    assert counts["remediations_started"] == 1
    assert [(url, payload["step"]) for url, payload in sender.sent] == [(HOOK, "tell")]
    (run,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert (run["resource_id"], run["status"], run["execution_status"]) == (
        node.id,
        "SUCCEEDED",
        "Success",
    )
    view = api.ok("GET", f"/api/v1/runbook-executions/{run['execution_id']}")
    assert view["steps"][0]["outputs"] == {"Delivered": True}
    assert view["steps"][0]["message"] == "delivered"
    assert view["steps"][0]["waiting"] == {}


def test_no_webhook_when_the_transaction_rolls_back(api: Api) -> None:
    apply(api, PAGE)
    db = _db(api)
    sender = CommittedOnly(db)

    def start_then_fail(gov: Governance) -> None:
        runbooks.start(gov, "page", {"NodeId": "mi-0"}, api.clock.now(), "test")
        raise InputError("the request fails after the webhook was queued")

    with pytest.raises(InputError):
        committed(SessionUnitOfWork(db), sender, start_then_fail, api.clock.now())
    assert sender.sent == [] and executions(db) == 0
    started = committed(
        SessionUnitOfWork(db),
        sender,
        lambda gov: runbooks.start(gov, "page", {"NodeId": "mi-0"}, api.clock.now(), "test"),
        api.clock.now(),
    )
    assert len(sender.sent) == 1
    view = api.ok("GET", f"/api/v1/runbook-executions/{started.id}")
    assert view["status"] == "Success"


def test_a_route_sends_after_its_commit_and_never_after_a_rollback(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = api.register()
    manual = rule(
        "owned",
        {
            "Type": "required-tags",
            "Parameters": {"TagKeys": ["Owner"]},
            "Remediation": remediation("page", Automatic=False),
        },
    )
    apply(api, PAGE, manual)
    sender = CommittedOnly(_db(api))
    api.client.app.dependency_overrides[notifier] = lambda: sender
    body = {"rule": "owned", "resource_id": node.id}
    real = operations.start_manual

    def start_then_fail(*args: Any) -> Any:
        real(*args)
        raise InputError("refused after the webhook was queued")

    monkeypatch.setattr(operations, "start_manual", start_then_fail)
    assert error_of(api.call("POST", "/api/v1/remediations", json=body))[0] == 400
    assert sender.sent == [] and executions(_db(api)) == 0
    monkeypatch.setattr(operations, "start_manual", real)
    run = api.ok("POST", "/api/v1/remediations", json=body)
    assert run["execution_status"] == "InProgress"  # answered before the webhook went out
    assert [url for url, _ in sender.sent] == [HOOK]
    (done,) = api.ok("GET", "/api/v1/remediations")["remediations"]
    assert (done["status"], done["execution_status"]) == ("SUCCEEDED", "Success")
    governance.tick(_db(api), api.clock.now(), sender)  # nothing left to send
    assert len(sender.sent) == 1
