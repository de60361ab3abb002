"""Health probes of deployed instances: one HTTP request, or one operator command.

* :class:`HttpProbe` sends ``GET http://ADDRESS/PATH`` (standard library, no proxy, one
  connection per probe): healthy iff the status is ``expect_status`` and the body contains
  ``expect_body``.  Its detail says why not: ``HTTP 503``, ``connection refused``,
  ``body lacks 'hello'``, ``timed out after 2s``.
* :class:`CommandProbe` runs an argv list (``{address}``, ``{host}`` and ``{port}``
  substituted in each element): healthy iff it exits 0 within ``timeout`` seconds; its
  detail is ``exit N: <last stderr line>`` or ``timed out after Ns``.

A probe never raises for an unhealthy instance: the answer is a :class:`Probe` value.
"""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Sequence

from patchwarden.ports import Probe

BODY_LIMIT = 1 << 20
"""Bytes of a response body read to look for ``expect_body``."""


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) → (host, port); ValueError when malformed."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"address must be host:port, got {address!r}")
    return host.strip("[]"), int(port)


class HttpProbe:
    """``GET http://ADDRESS+path`` once (see module)."""

    def __init__(
        self, path: str = "/", expect_status: int = 200, expect_body: str = "", timeout: float = 2.0
    ) -> None:
        self.path = path if path.startswith("/") else "/" + path
        self.expect_status = expect_status
        self.expect_body = expect_body
        self.timeout = timeout

    def __call__(self, address: str) -> Probe:
        try:
            host, port = split_address(address)
        except ValueError as exc:
            return Probe(False, str(exc))
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            conn.request("GET", self.path, headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read(BODY_LIMIT).decode("utf-8", errors="replace")
        except TimeoutError:
            return Probe(False, f"timed out after {self.timeout:g}s")
        except ConnectionRefusedError:
            return Probe(False, "connection refused")
        except (OSError, http.client.HTTPException) as exc:
            return Probe(False, _one_line(str(exc) or type(exc).__name__))
        finally:
            conn.close()
        if response.status != self.expect_status:
            return Probe(False, f"HTTP {response.status}")
        if self.expect_body not in body:
            return Probe(False, f"body lacks {self.expect_body!r}")
        return Probe(True, f"HTTP {response.status}")


class CommandProbe:
    """Run an operator's check command once (see module)."""

    def __init__(self, argv: Sequence[str], timeout: float = 10.0) -> None:
        if not argv:
            raise ValueError("CommandProbe needs a command")
        self.argv = tuple(argv)
        self.timeout = timeout

    def __call__(self, address: str) -> Probe:
        host, _, port = address.rpartition(":")
        values = {"{address}": address, "{host}": host.strip("[]"), "{port}": port}
        argv = []
        for word in self.argv:
            for key, value in values.items():
                word = word.replace(key, value)
            argv.append(word)
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                errors="replace", timeout=self.timeout, check=False,
                env={**os.environ, "PATCHWARDEN_ADDRESS": address},
            )  # fmt: skip
        except FileNotFoundError:
            return Probe(False, f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Probe(False, f"timed out after {self.timeout:g}s")
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            return Probe(False, f"exit {proc.returncode}: {lines[-1] if lines else 'no output'}")
        return Probe(True, "exit 0")


def _one_line(text: str) -> str:
    return " ".join(text.split())
