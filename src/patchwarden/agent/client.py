"""The node's side of the API: the agent's requests and the server's answers as the typed
records of :mod:`patchwarden.wire`, over the shared :class:`ApiClient`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from patchwarden import wire
from patchwarden.adapters.api_client import ApiClient, Refused, ServerUnavailable

__all__ = ["NodeApi", "Refused", "ServerUnavailable"]

T = TypeVar("T")


class NodeApi:
    """The node endpoints of one server; ``credential`` is ``<node id>.<secret>``."""

    def __init__(
        self,
        server: str,
        credential: str = "",
        *,
        verify: bool | str = True,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api = ApiClient(
            server, bearer=credential, verify=verify, timeout=timeout, transport=transport
        )

    @property
    def server(self) -> str:
        """The server URL."""
        return self.api.server

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    def _answer(self, read: Callable[[Any], T], raw: Any, what: str) -> T:
        try:
            return read(raw)
        except wire.WireError as exc:  # the server's fault, not the node's: retried later
            message = f"malformed answer from {self.server} to {what}: {exc}"
            raise ServerUnavailable(message) from None

    def register(self, body: wire.Registration) -> wire.Credential:
        """``POST /api/v1/register``."""
        raw = self.api.call("POST", "/api/v1/register", json=body.to_json())
        return self._answer(wire.Credential.from_json, raw, "register")

    def rotate(self) -> wire.Credential:
        """A new credential (the old one stops working)."""
        raw = self.api.call("POST", "/api/v1/agent/credential")
        return self._answer(wire.Credential.from_json, raw, "credential rotation")

    def poll(self, wait: float) -> list[wire.Delivery]:
        """Invocations to run, waiting up to ``wait`` seconds for one."""
        raw = self.api.call(
            "GET", "/api/v1/agent/commands", params={"wait": wait}, timeout=wait + 30
        )
        return self._answer(wire.deliveries, raw, "a poll")

    def upload_full(self, body: wire.FullInventory) -> wire.InventoryAck:
        """``PUT /api/v1/agent/inventory``."""
        raw = self.api.call("PUT", "/api/v1/agent/inventory", json=body.to_json())
        return self._answer(wire.InventoryAck.from_json, raw, "an inventory upload")

    def upload_delta(self, body: wire.InventoryDelta) -> wire.InventoryAck:
        """``PATCH /api/v1/agent/inventory`` (:class:`Refused` 409 when the base differs)."""
        raw = self.api.call("PATCH", "/api/v1/agent/inventory", json=body.to_json())
        return self._answer(wire.InventoryAck.from_json, raw, "an inventory delta")

    def report(self, invocation_id: str, body: wire.InvocationResult) -> wire.ResultAck:
        """``POST /api/v1/agent/invocations/{id}``."""
        raw = self.api.call(
            "POST", f"/api/v1/agent/invocations/{invocation_id}", json=body.to_json()
        )
        return self._answer(wire.ResultAck.from_json, raw, "a result")

    def put_image(self, invocation_id: str, record: dict[str, Any]) -> None:
        """``PUT /api/v1/agent/images``: the record of the image this invocation builds."""
        self.api.call(
            "PUT", "/api/v1/agent/images", json={"invocation_id": invocation_id, "record": record}
        )
