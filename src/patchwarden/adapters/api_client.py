"""The one HTTP client of the fleet server's API, shared by the agent and the CLI.

It knows the server's conventions and nothing of any route: JSON in and out, bearer
credentials (an operator token or a node credential), errors as ``{"error": {"code",
"message"}}``.  Failures come out of the project's error tree so each shell translates
them the same way:

- :class:`ServerUnavailable` (exit 3): the server cannot be reached, answered 5xx, or sent
  something that is not JSON — the agent backs off and retries;
- :class:`Refused` (exit 2): a 4xx answer — the request itself is wrong, never retried.

The transport is injectable (``httpx.MockTransport``, an ASGI app in tests).
"""

from __future__ import annotations

from typing import Any

import httpx

from patchwarden.errors import EnvironmentProblem, InputError


class ServerUnavailable(EnvironmentProblem):
    """The server cannot be reached or failed (5xx, or an answer that is not JSON)."""


class Refused(InputError):
    """The server refused the request (4xx): ``status`` and the API's error ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status = status
        self.code = code


class ApiClient:
    """JSON requests to one server (``https://host:port``, no path)."""

    def __init__(
        self,
        server: str,
        *,
        bearer: str = "",
        verify: bool | str = True,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InputError(f"--server: expected an http:// or https:// URL, got {server!r}")
        self.server = server.rstrip("/")
        path = httpx.URL(self.server).path
        if path.endswith("/api") or "/api/" in path:
            raise InputError(f"{BASE_URL_HINT} (got {server!r})")
        self.bearer = bearer
        """Sent as ``Authorization: Bearer …`` when set (it may change: credential rotation)."""
        self._http = httpx.Client(
            base_url=self.server, verify=verify, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, path: str, *, timeout: float | None = None, **kw: Any) -> Any:
        """The decoded JSON answer of ``method path`` (``json=``, ``params=`` as httpx);
        ``None`` for an answer without a body (``204 No Content``)."""
        headers = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._http.request(method, path, headers=headers, **kw, **extra)
        except httpx.HTTPError as exc:
            raise ServerUnavailable(
                f"cannot reach the server at {self.server}: {exc or type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise ServerUnavailable(f"server error {response.status_code} at {self.server}{path}")
        if response.status_code >= 400:
            raise _refusal(response, self.server)
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerUnavailable(
                f"the server at {self.server} answered {path} with something that is not JSON"
            ) from None


BASE_URL_HINT = "--server is the server's base URL, without /api/v1"


def _refusal(response: httpx.Response, server: str) -> Refused:
    try:
        err = response.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code = "error"
        message = " ".join(response.text[:200].split()) or response.reason_phrase
    if response.status_code == 404 and message == "Not Found" and httpx.URL(server).path.strip("/"):
        # no such route under a server URL with a path: a wrong prefix, not a missing object
        message = f"{message}; {BASE_URL_HINT}"
    return Refused(response.status_code, code, message)
