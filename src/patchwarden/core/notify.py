"""Notification targets of application events: which events a target wants (type globs and
a minimum severity), what it is sent (``json``: the event; ``slack``: a Slack-compatible
``{"text", "blocks"}`` message) and when a failed delivery is tried again (exponential
backoff, a bounded number of attempts).

Targets are admin-configured like runbook webhook destinations and checked the same way
(:func:`patchwarden.core.runbook.destinations.url_refusal`: https only unless http is
allowed, no literal private address unless private destinations are allowed); the webhook
adapter checks the resolved addresses again when it connects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from patchwarden.core.events import TYPES, Event, Severity
from patchwarden.core.runbook.destinations import NAME, WebhookTarget, url_refusal
from patchwarden.errors import InputError

FORMATS = ("json", "slack")
MAX_TARGETS = 50
MAX_PATTERNS = 20
PATTERN = re.compile(r"^[a-z0-9_.*?]{1,64}$")

BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=10)
MAX_ATTEMPTS = 8
"""Attempts of one delivery (10 s, 20 s, 40 s … 10 min apart, about 30 minutes in all)."""
MAX_ERROR = 200


@dataclass(frozen=True)
class Target:
    """One notification target."""

    name: str
    url: str
    format: str = "json"
    events: tuple[str, ...] = ("*",)
    """Type globs (``window.*``, ``command.finished``); an event matching any is sent."""
    min_severity: Severity = Severity.INFO

    def wants(self, event: Event) -> bool:
        """Whether ``event`` goes to this target (never a silent type)."""
        if not event.notifies or event.severity.rank < self.min_severity.rank:
            return False
        return any(fnmatchcase(event.type, pattern) for pattern in self.events)

    def to_json(self, *, show_url: bool = True) -> dict[str, Any]:
        """As stored and as the API shows it (``show_url`` false: scheme and host only)."""
        return {
            "name": self.name,
            "url": self.url if show_url else origin(self.url),
            "format": self.format,
            "events": list(self.events),
            "min_severity": self.min_severity.value,
        }


@dataclass(frozen=True)
class Targets:
    """The admin's notification targets and the two switches of webhook destinations."""

    targets: tuple[Target, ...] = ()
    allow_http: bool = False
    allow_private: bool = False

    def named(self, name: str) -> Target | None:
        """The target called ``name``."""
        return next((t for t in self.targets if t.name == name), None)

    def matching(self, event: Event) -> tuple[Target, ...]:
        """The targets ``event`` goes to."""
        return tuple(t for t in self.targets if t.wants(event))

    def webhook(self, target: Target) -> WebhookTarget:
        """What the webhook adapter sends to."""
        return WebhookTarget(target.name, target.url, self.allow_http, self.allow_private)

    def to_json(self, *, show_urls: bool = True) -> dict[str, Any]:
        """As stored and as the API shows it."""
        return {
            "targets": [t.to_json(show_url=show_urls) for t in self.targets],
            "allow_http": self.allow_http,
            "allow_private": self.allow_private,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> Targets:
        """From a stored or submitted document; :class:`InputError` (one line, naming the
        target) when it is not valid."""
        if not value:
            return cls()
        raw = value.get("targets") or []
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise InputError("targets: a list of targets")
        if len(raw) > MAX_TARGETS:
            raise InputError(f"targets: at most {MAX_TARGETS}")
        targets = cls(
            tuple(_target(i, item) for i, item in enumerate(raw)),
            _flag(value, "allow_http"),
            _flag(value, "allow_private"),
        )
        check(targets)
        return targets


def _flag(value: Mapping[str, Any], key: str) -> bool:
    flag = value.get(key, False)
    if not isinstance(flag, bool):
        raise InputError(f"{key}: true or false")
    return flag


def _target(index: int, item: object) -> Target:
    if not isinstance(item, Mapping):
        raise InputError(f"targets[{index}]: an object with name, url, format, events")
    unknown = sorted(set(item) - {"name", "url", "format", "events", "min_severity"})
    if unknown:
        raise InputError(f"targets[{index}]: unknown field {unknown[0]!r}")
    name, url = item.get("name"), item.get("url")
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"targets[{index}].name: 1-64 letters, digits, '_', '.', '-'")
    if not isinstance(url, str):
        raise InputError(f"target {name}: url is required")
    fmt = item.get("format", "json")
    if fmt not in FORMATS:
        raise InputError(f"target {name}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    events = item.get("events", ["*"])
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, Sequence) or not events or len(events) > MAX_PATTERNS:
        raise InputError(f"target {name}: events is a list of 1-{MAX_PATTERNS} type globs")
    severity = item.get("min_severity", "info")
    try:
        level = Severity(severity)
    except ValueError:
        levels = ", ".join(s.value for s in Severity)
        raise InputError(f"target {name}: min_severity must be one of {levels}") from None
    return Target(name, url, str(fmt), tuple(str(e) for e in events), level)


def pattern_refusal(pattern: str) -> str | None:
    """Why ``pattern`` is no valid event-type glob (characters, or it matches no type)."""
    if not PATTERN.match(pattern):
        return f"event glob {pattern!r}: letters, digits, '_', '.', '*', '?' (1-64)"
    if not any(fnmatchcase(t, pattern) for t in TYPES):
        return f"event glob {pattern!r} matches no event type"
    return None


def check(targets: Targets) -> None:
    """Refuse duplicate names, bad URLs and bad globs (:class:`InputError`, one line)."""
    seen: set[str] = set()
    for target in targets.targets:
        if target.name in seen:
            raise InputError(f"target {target.name}: the name is used twice")
        seen.add(target.name)
        refusal = url_refusal(target.url, targets.allow_http, targets.allow_private)
        if refusal is not None:
            raise InputError(f"target {target.name}: {refusal}")
        for pattern in target.events:
            why = pattern_refusal(pattern)
            if why is not None:
                raise InputError(f"target {target.name}: {why}")


def origin(url: str) -> str:
    """``scheme://host[:port]/…`` of ``url`` (a URL may hold a secret)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"


_EMOJI = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.ERROR: ":x:",
    Severity.CRITICAL: ":rotating_light:",
}


def payload(target: Target, event: Event, event_id: int) -> dict[str, Any]:
    """What ``target`` is sent for ``event``: ``json`` the event (plus its id), ``slack`` a
    one-line ``text`` and a section block."""
    if target.format == "slack":
        summary = _slack_escaped(event.summary)
        line = f"{_EMOJI[event.severity]} [{event.severity.value}] {event.type}: {summary}"
        return {
            "text": line,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": line}},
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"{_slack_escaped(event.subject)} · "
                            f"{event.at.isoformat()} · event {event_id}",
                        }
                    ],
                },
            ],
        }
    return {"id": event_id, **event.to_json()}


def _slack_escaped(text: str) -> str:
    """``text`` with Slack's control characters escaped (no ``<!channel>`` or link from a
    name or a message)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 10 s, 20 s, 40 s … capped."""
    doublings = min(max(attempts - 1, 0), 30)
    wait: timedelta = BACKOFF_FIRST * (1 << doublings)
    return min(wait, BACKOFF_CAP)


@dataclass(frozen=True)
class Outcome:
    """What to record after one attempt."""

    status: str
    """``delivered``, ``pending`` (tried again at ``next_attempt_at``) or ``failed``."""
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None


def after_attempt(
    attempts_before: int, error: str | None, now: datetime, max_attempts: int = MAX_ATTEMPTS
) -> Outcome:
    """The outcome of one more attempt that failed with ``error`` (``None``: delivered)."""
    attempts = attempts_before + 1
    if error is None:
        return Outcome("delivered", attempts)
    line = one_line(error)
    if attempts >= max_attempts:
        return Outcome("failed", attempts, line)
    return Outcome("pending", attempts, line, now + backoff(attempts))


def scrub(error: str, url: str) -> str:
    """``error`` without the parts of ``url`` that may hold a secret (user info, path,
    query), so that it can be shown and logged."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    secrets = [url, parts.password or "", parts.username or "", parts.query]
    if parts.path not in ("", "/"):
        secrets.append(parts.path)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        error = error.replace(secret, "…")
    return error


def one_line(text: str) -> str:
    """``text`` on one line of at most :data:`MAX_ERROR` characters."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"


@dataclass(frozen=True)
class Claimed:
    """One delivery (an event to a target) a replica claimed for sending."""

    event_id: int
    target: str
    event: Event
    attempts: int
