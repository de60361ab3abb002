"""Webhook destinations of ``notify`` steps: named by a runbook, defined by an admin.

A runbook never carries a URL.  Its ``notify`` step names a destination (``Destination:
ops-chat``) and an admin maps names to URLs in the governance settings, with two switches:
``http://`` URLs (``allow_http``) and targets in loopback, link-local, private, shared or
unspecified address ranges (``allow_private``).  Everything here is pure: the checks of
addresses a host name *resolves* to are made by the webhook adapter with
:func:`address_refusal`, at the moment it connects (the only place that knows what it is
about to connect to).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from patchwarden.core.runbook.inputs import is_reference, notify_url_refusal
from patchwarden.core.runbook.model import Runbook
from patchwarden.errors import InputError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_DESTINATIONS = 100
MAX_URL = 2048
_SHARED = (ipaddress.ip_network("100.64.0.0/10"),)  # carrier-grade NAT: not public either


@dataclass(frozen=True)
class WebhookTarget:
    """Where one webhook goes: the destination's name, its URL and the admin's switches."""

    name: str
    url: str
    allow_http: bool = False
    allow_private: bool = False


@dataclass(frozen=True)
class Destinations:
    """The admin's webhook destinations (name → URL) and switches."""

    urls: Mapping[str, str] = field(default_factory=dict)
    allow_http: bool = False
    allow_private: bool = False

    def target(self, name: str) -> WebhookTarget | None:
        """The target of destination ``name`` (``None``: not configured)."""
        url = self.urls.get(name)
        if url is None:
            return None
        return WebhookTarget(name, url, self.allow_http, self.allow_private)

    def to_json(self) -> dict[str, object]:
        """As stored in the settings record."""
        return {
            "destinations": dict(self.urls),
            "allow_http": self.allow_http,
            "allow_private": self.allow_private,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object] | None) -> Destinations:
        """From the settings record (missing: no destination)."""
        if not value:
            return cls()
        urls = value.get("destinations") or {}
        assert isinstance(urls, Mapping)
        return cls(
            {str(k): str(v) for k, v in urls.items()},
            bool(value.get("allow_http")),
            bool(value.get("allow_private")),
        )


def address_refusal(address: str, allow_private: bool) -> str | None:
    """Why a webhook may not connect to IP ``address`` (loopback, link-local, private,
    shared, multicast, reserved or unspecified, unless ``allow_private``); ``None``: it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if allow_private:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or any(ip in net for net in _SHARED)
    ):
        return "the destination's address is in a loopback, link-local or private range"
    return None


def url_refusal(url: str, allow_http: bool, allow_private: bool) -> str | None:
    """Why ``url`` is not a valid destination (scheme, host, a literal private address);
    ``None``: it is.  Host names are checked again, resolved, when a webhook is sent."""
    if len(url) > MAX_URL:
        return f"a URL has at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        extra = "" if allow_http else " (http:// only with AllowHttpDestinations)"
        return f"the URL must start with {' or '.join(s + '://' for s in schemes)}{extra}"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if port == 0:
        return "the URL's port must not be 0"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return address_refusal("127.0.0.1", allow_private)
        return None
    return address_refusal(host, allow_private)


def check_destinations(destinations: Destinations) -> None:
    """Refuse bad names or URLs (InputError naming the destination)."""
    if len(destinations.urls) > MAX_DESTINATIONS:
        raise InputError(f"WebhookDestinations: at most {MAX_DESTINATIONS} destinations")
    for name, url in sorted(destinations.urls.items()):
        if not NAME.match(name):
            raise InputError(
                f"WebhookDestinations.{name}: a name is 1-64 letters, digits, '_', '.', '-'"
            )
        refusal = url_refusal(url, destinations.allow_http, destinations.allow_private)
        if refusal is not None:
            raise InputError(f"WebhookDestinations.{name}: {refusal}")


def notify_steps(book: Runbook) -> Iterable[tuple[str, Mapping[str, object]]]:
    """(step name, inputs) of every ``notify`` step."""
    for step in book.steps:
        if step.action == "notify":
            yield step.name, step.inputs


def step_refusal(step: str, inputs: Mapping[str, object], configured: Iterable[str]) -> str | None:
    """Why a ``notify`` step cannot be sent: it gives a ``Url`` (only admin-configured
    destinations may be called), its ``Destination`` is no literal name, or no such
    destination is configured.  ``None``: it can."""
    if "Url" in inputs:  # the parser refuses it too; a runbook stored before may not
        return notify_url_refusal(step)
    name = inputs.get("Destination")
    if not isinstance(name, str) or not name or is_reference(name):
        return f"step {step}: Destination must be the name of a webhook destination"
    if name not in set(configured):
        return f"step {step}: webhook destination {name!r} is not configured"
    return None


def runbook_refusal(book: Runbook, configured: Iterable[str]) -> str | None:
    """The first ``notify`` step of ``book`` that could not be sent (see
    :func:`step_refusal`), as one line; ``None``: every one can."""
    names = set(configured)
    for step, inputs in notify_steps(book):
        refusal = step_refusal(step, inputs, names)
        if refusal is not None:
            return f"runbook {book.name}: {refusal}"
    return None
