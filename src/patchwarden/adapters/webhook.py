"""Outbound webhooks (httpx): the :class:`~patchwarden.pipeline.governance.ports.Notifier`
of runbook ``notify`` steps.  A failed send is a value, never an exception.

Only admin-configured destinations reach this adapter, and it checks them once more where
it matters, at connection time: the URL's scheme (``https://``, ``http://`` only when the
admin allowed it), then every address the host name resolves to — loopback, link-local,
private, shared, multicast, reserved and unspecified ranges are refused unless the admin
allowed private destinations — and it connects to the very address it checked (the URL's
host is kept for the ``Host`` header, TLS SNI and certificate verification), so a DNS
answer that changes between check and connect (DNS rebinding) cannot redirect it.  It does
not follow redirects and ignores proxy environment variables.  Why a webhook failed is
logged here, for the server's administrators; the step only says "not delivered".
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from patchwarden.core.runbook.destinations import WebhookTarget, address_refusal, url_refusal
from patchwarden.pipeline.governance.records import Delivery

TIMEOUT = 5.0
log = logging.getLogger("patchwarden.webhook")

Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class WebhookNotifier:
    """POSTs JSON to a destination's URL with a short timeout."""

    def __init__(self, timeout: float = TIMEOUT, resolver: Resolver = resolve) -> None:
        self.timeout = timeout
        self.resolver = resolver

    def send(self, target: WebhookTarget, payload: Mapping[str, object]) -> Delivery:
        """POST ``payload`` to ``target``: its HTTP status, or why it was not sent."""
        delivery = self._send(target, payload)
        if not delivery.ok:
            why = delivery.error or f"answered {delivery.status_code}"
            log.warning("webhook to destination %s not delivered: %s", target.name, why)
        return delivery

    def _send(self, target: WebhookTarget, payload: Mapping[str, object]) -> Delivery:
        refusal = url_refusal(target.url, target.allow_http, target.allow_private)
        if refusal is not None:
            return Delivery(error=f"refused: {refusal}")
        parts = urlsplit(target.url)
        host = parts.hostname
        assert host is not None  # url_refusal checked it
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = list(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            return Delivery(error=f"cannot resolve {host}: {exc}")
        if not addresses:
            return Delivery(error=f"cannot resolve {host}")
        for address in addresses:
            refused = address_refusal(address, target.allow_private)
            if refused is not None:
                return Delivery(error=f"refused: {host} resolves to {address}: {refused}")
        pinned = _pinned(parts.scheme, addresses[0], parts.port, parts.path, parts.query)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        auth = (parts.username or "", parts.password or "") if parts.username else None
        try:
            with httpx.Client(
                timeout=self.timeout, follow_redirects=False, trust_env=False, auth=auth
            ) as client:
                response = client.post(
                    pinned,
                    json=dict(payload),
                    headers={"Host": netloc},
                    extensions=extensions,
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Delivery(error=str(exc))
        return Delivery(status_code=response.status_code)


def _pinned(scheme: str, address: str, port: int | None, path: str, query: str) -> str:
    """The URL with its host replaced by the checked ``address``."""
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((scheme, netloc, path or "/", query, ""))
