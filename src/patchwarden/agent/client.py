"""The agent's side of the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from patchwarden.errors import AdapterError, EnvironmentProblem, InputError


class ServerUnavailable(EnvironmentProblem):
    """The server cannot be reached or failed (5xx): back off and retry."""


class Refused(AdapterError):
    """The server answered 4xx: the request itself is wrong (not retried)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"server refused ({status} {code}): {message}")
        self.status = status
        self.code = code


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 500:
        raise ServerUnavailable(f"server error {response.status_code}")
    if response.status_code >= 400:
        try:
            err = response.json()["error"]
            code, message = err["code"], err["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "error", response.text[:200]
        raise Refused(response.status_code, code, message)
    return response.json()


class Client:
    """HTTP client of one server; ``credential`` is ``<node id>.<secret>`` once registered."""

    def __init__(
        self, server: str, credential: str = "", *, verify: bool | str = True, timeout: float = 30
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InputError(f"--server: expected an http:// or https:// URL, got {server!r}")
        self.server = server.rstrip("/")
        self.credential = credential
        self._http = httpx.Client(base_url=self.server, verify=verify, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, *, timeout: float | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.credential}"} if self.credential else {}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._http.request(method, path, headers=headers, **kw, **extra)
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"cannot reach {self.server}: {exc}") from None
        return _check(response)

    def register(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/register``."""
        result: dict[str, Any] = self._call("POST", "/api/v1/register", json=body)
        return result

    def rotate(self) -> str:
        """A new credential (the old one stops working)."""
        credential: str = self._call("POST", "/api/v1/agent/credential")["credential"]
        return credential

    def poll(self, wait: float) -> list[dict[str, Any]]:
        """Invocations to run, waiting up to ``wait`` seconds for one."""
        found: list[dict[str, Any]] = self._call(
            "GET", "/api/v1/agent/commands", params={"wait": wait}, timeout=wait + 30
        )["invocations"]
        return found

    def upload_full(self, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/agent/inventory``."""
        result: dict[str, Any] = self._call("PUT", "/api/v1/agent/inventory", json=body)
        return result

    def upload_delta(self, body: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /api/v1/agent/inventory`` (:class:`Refused` 409 when the base differs)."""
        result: dict[str, Any] = self._call("PATCH", "/api/v1/agent/inventory", json=body)
        return result

    def report(self, invocation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/agent/invocations/{id}``."""
        result: dict[str, Any] = self._call(
            "POST", f"/api/v1/agent/invocations/{invocation_id}", json=body
        )
        return result
