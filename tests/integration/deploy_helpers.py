"""Helpers of the deployment tests: consecutive free ports on loopback, and a client that
polls a service all along a rollout (every body, every failure)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


def free_ports(count: int) -> list[int]:
    """``count`` consecutive ports free on 127.0.0.1 right now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports")


@dataclass
class Poller:
    """A client that polls a URL all along: every response body, every failure."""

    url: str
    bodies: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    self.bodies.append(response.read().decode().strip())
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(str(exc))
            time.sleep(0.02)

    def seen(self) -> list[str]:
        """The distinct bodies, in the order they first appeared."""
        return list(dict.fromkeys(self.bodies))
