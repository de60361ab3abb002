"""Webhooks of ``notify`` steps go only to destinations an admin configured (never to a URL
a runbook names), private address ranges are refused where the adapter connects, and a
step never shows what the target answered (no SSRF / port-scan oracle)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from governance_fakes import FakeNotifier, FakeUnitOfWork, World, governance

from patchwarden.adapters.webhook import WebhookNotifier
from patchwarden.core.runbook.destinations import (
    Destinations,
    WebhookTarget,
    address_refusal,
    url_refusal,
)
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import documents, operations, runbooks
from patchwarden.pipeline.governance.delivery import committed
from patchwarden.pipeline.governance.records import Delivery
from patchwarden.pipeline.governance.tick import tick

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NODE = {"NodeId": "mi-1"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def spec(**inputs: Any) -> dict[str, Any]:
    step = {"name": "tell", "action": "notify", "inputs": {"Message": "hi", **inputs}}
    return {"parameters": {"NodeId": {"type": "String"}}, "mainSteps": [step]}


def test_a_runbook_naming_a_url_or_an_unknown_destination_is_refused() -> None:
    store = governance(World()).documents
    with pytest.raises(InputError) as url:
        documents.put_runbook(store, "page", spec(Url="http://169.254.169.254/"), T0)
    assert "not a Url" in str(url.value) and "\n" not in str(url.value)
    with pytest.raises(InputError) as unknown:
        documents.put_runbook(store, "page", spec(Destination="nope"), T0)
    assert str(unknown.value) == (
        "runbook page: step tell: webhook destination 'nope' is not configured"
    )
    with pytest.raises(InputError, match="must be the name"):
        documents.put_runbook(store, "page", spec(Destination="{{NodeId}}"), T0)
    assert documents.put_runbook(store, "page", spec(Destination="ops-chat"), T0)


def test_a_removed_destination_fails_the_step_at_run_time() -> None:
    world = World(nodes={"mi-1": {}})
    documents.put_runbook(governance(world).documents, "page", spec(Destination="ops-chat"), T0)
    world.destinations = Destinations({})
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log)
    committed(uow, notifier, lambda gov: runbooks.start(gov, "page", NODE, at(0), "a"), at(0))
    (execution,) = world.executions.values()
    assert execution["execution"].status.value == "Failed"
    assert "'ops-chat' is not configured" in execution["execution"].steps["tell"].message
    assert notifier.sent == []


def test_a_destination_removed_while_queued_fails_when_queued_again() -> None:
    world = World(nodes={"mi-1": {}})
    documents.put_runbook(governance(world).documents, "page", spec(Destination="ops-chat"), T0)
    runbooks.start(governance(world), "page", NODE, at(0), "a")  # queued, never sent
    world.destinations = Destinations({})
    uow = FakeUnitOfWork(world)
    notifier = FakeNotifier(uow.log)
    tick(uow, notifier, at(120))
    (execution,) = world.executions.values()
    assert execution["execution"].status.value == "Failed"
    assert notifier.sent == []


def test_a_step_shows_nothing_of_what_answered() -> None:
    world = World(nodes={"mi-1": {}})
    documents.put_runbook(governance(world).documents, "page", spec(Destination="ops-chat"), T0)
    uow = FakeUnitOfWork(world)
    answers = [
        Delivery(error="[Errno 111] Connection refused"),
        Delivery(status_code=404),
        Delivery(status_code=302),
    ]
    for index, answer in enumerate(answers):
        notifier = FakeNotifier(uow.log, answer)
        stored = committed(
            uow, notifier, lambda gov: runbooks.start(gov, "page", NODE, at(0), "a"), at(index)
        )
        step = world.executions[stored.id]["execution"].steps["tell"]
        assert (step.message, dict(step.outputs)) == ("not delivered (attempt 1)", {})


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    assert address_refusal(address, allow_private=False) is not None
    assert address_refusal(address, allow_private=True) is None


def test_public_addresses_and_urls() -> None:
    assert address_refusal("93.184.216.34", allow_private=False) is None
    assert address_refusal("2606:4700::1", allow_private=False) is None
    assert url_refusal("https://hooks.example/x", False, False) is None
    assert "https://" in str(url_refusal("http://hooks.example/x", False, False))
    assert url_refusal("http://hooks.example/x", True, False) is None
    assert url_refusal("ftp://hooks.example/x", True, False) is not None
    assert url_refusal("https://127.0.0.1/x", False, False) is not None
    assert url_refusal("https://[::1]:8443/x", False, False) is not None
    assert url_refusal("https://localhost/x", False, False) is not None
    assert url_refusal("https://localhost/x", False, True) is None
    assert url_refusal("https:///x", False, False) is not None


def test_only_an_admin_setting_valid_destinations() -> None:
    world = World()
    gov = governance(world)
    for bad in (
        Destinations({"ops": "http://hooks.example/x"}),
        Destinations({"ops": "https://10.0.0.1/x"}),
        Destinations({"bad name!": "https://hooks.example/x"}),
    ):
        with pytest.raises(InputError, match="WebhookDestinations"):
            operations.set_destinations(gov, "token:root", bad, T0)
    good = Destinations({"ops": "http://10.0.0.1/x"}, allow_http=True, allow_private=True)
    operations.set_destinations(gov, "token:root", good, T0)
    assert world.destinations == good


class _Hook(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.seen.append((self.path, str(self.headers.get("Host"))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_adapter_refuses_a_name_resolving_to_a_private_address(hook: int) -> None:
    url = f"http://hooks.example:{hook}/x"
    rebinding = WebhookNotifier(resolver=lambda host, port: ["93.184.216.34", "127.0.0.1"])
    delivery = rebinding.send(WebhookTarget("ops", url, allow_http=True), {"a": 1})
    assert delivery.status_code is None and "127.0.0.1" in delivery.error
    plain = WebhookNotifier(resolver=lambda host, port: ["127.0.0.1"])
    https_only = plain.send(WebhookTarget("ops", url), {"a": 1})
    assert https_only.status_code is None and "https://" in https_only.error
    assert _Hook.seen == []


def test_the_adapter_connects_to_the_address_it_checked(hook: int) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(f"{host}:{port}")
        return ["127.0.0.1"]

    notifier = WebhookNotifier(resolver=resolver)
    target = WebhookTarget("ops", f"http://hooks.example:{hook}/in?x=1", True, True)
    assert notifier.send(target, {"a": 1}) == Delivery(status_code=204)
    assert resolved == [f"hooks.example:{hook}"]
    assert _Hook.seen == [("/in?x=1", f"hooks.example:{hook}")]
