"""Application events: what the server did or saw (a command sent or finished, a
maintenance window run, a remediation queued, new serious findings, the vulnerability
database missing or stale, a notification that could not be delivered).

One frozen :class:`Event` per happening, built by the constructors below so that every
emission site says the same thing the same way.  Events are values: the shells write them
to the outbox in the transaction that made them happen, log them once it committed and
notify the admin's targets (:mod:`patchwarden.core.notify`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How much an event matters (``info`` < ``warning`` < ``error`` < ``critical``)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Ordering for thresholds: info 0 … critical 3."""
        return list(Severity).index(self)


SERVER_STARTED = "server.started"
COMMAND_SENT = "command.sent"
COMMAND_FINISHED = "command.finished"
WINDOW_STARTED = "window.started"
WINDOW_FINISHED = "window.finished"
REMEDIATION_QUEUED = "remediation.queued"
REMEDIATION_STARTED = "remediation.started"
REMEDIATION_FINISHED = "remediation.finished"
FINDING_NEW = "finding.new"
VULNDB_MISSING = "vulndb.missing"
VULNDB_STALE = "vulndb.stale"
VULNDB_UPDATED = "vulndb.updated"
VULNDB_UPDATE_FAILED = "vulndb.update_failed"
NOTIFICATION_FAILED = "notification.failed"

TYPES: tuple[str, ...] = (
    SERVER_STARTED,
    COMMAND_SENT,
    COMMAND_FINISHED,
    WINDOW_STARTED,
    WINDOW_FINISHED,
    REMEDIATION_QUEUED,
    REMEDIATION_STARTED,
    REMEDIATION_FINISHED,
    FINDING_NEW,
    VULNDB_MISSING,
    VULNDB_STALE,
    VULNDB_UPDATED,
    VULNDB_UPDATE_FAILED,
    NOTIFICATION_FAILED,
)
"""Every event type the server emits."""

SILENT: frozenset[str] = frozenset({NOTIFICATION_FAILED})
"""Types that are logged and listed but never notified (a failed notification announced by
a notification could fail in turn)."""

MAX_SUMMARY = 300
MAX_SUBJECT = 256


@dataclass(frozen=True)
class Event:
    """One application event.

    ``subject`` names what it is about (a command id, a window execution, ``rule/node``),
    ``summary`` is one human line, ``details`` the fields a machine reads (JSON values)."""

    type: str
    at: datetime
    severity: Severity
    subject: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def notifies(self) -> bool:
        """Whether notification targets may receive it."""
        return self.type not in SILENT

    def to_json(self) -> dict[str, Any]:
        """As stored, logged, listed and sent (``at`` ISO-8601)."""
        return {
            "type": self.type,
            "at": self.at.isoformat(),
            "severity": self.severity.value,
            "subject": self.subject,
            "summary": self.summary,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Event:
        """From :meth:`to_json`."""
        return cls(
            type=str(value["type"]),
            at=datetime.fromisoformat(str(value["at"])),
            severity=Severity(str(value["severity"])),
            subject=str(value.get("subject", "")),
            summary=str(value.get("summary", "")),
            details=dict(value.get("details") or {}),
        )


def make(
    type_: str,
    at: datetime,
    severity: Severity,
    subject: str,
    summary: str,
    **details: Any,
) -> Event:
    """An event with its summary on one line and its lengths bounded."""
    line = " ".join(summary.split())
    if len(line) > MAX_SUMMARY:
        line = line[: MAX_SUMMARY - 1] + "…"
    return Event(type_, at, severity, subject[:MAX_SUBJECT], line, details)


def server_started(at: datetime, version: str, replica: str) -> Event:
    """A server process started serving."""
    return make(
        SERVER_STARTED,
        at,
        Severity.INFO,
        replica,
        f"patchwarden server {version} started ({replica})",
        version=version,
        replica=replica,
    )


def command_sent(
    at: datetime, command_id: str, document: str, operation: str, targets: int, actor: str
) -> Event:
    """A command was created with one invocation per target node."""
    what = f"{document} {operation}".strip()
    return make(
        COMMAND_SENT,
        at,
        Severity.INFO,
        command_id,
        f"command {command_id} ({what}) sent to {targets} node(s) by {actor}",
        command_id=command_id,
        document=document,
        operation=operation,
        target_count=targets,
        actor=actor,
    )


_FAILED_COMMAND = frozenset({"Failed", "TimedOut"})


def command_finished(
    at: datetime,
    command_id: str,
    document: str,
    status: str,
    completed: int,
    errors: int,
    targets: int,
) -> Event:
    """A command reached a terminal status (Success, Failed, TimedOut, Cancelled)."""
    severity = Severity.ERROR if status in _FAILED_COMMAND else Severity.INFO
    return make(
        COMMAND_FINISHED,
        at,
        severity,
        command_id,
        f"command {command_id} ({document}) finished {status}: "
        f"{completed}/{targets} completed, {errors} error(s)",
        command_id=command_id,
        document=document,
        status=status,
        completed_count=completed,
        error_count=errors,
        target_count=targets,
    )


def window_started(
    at: datetime, window: str, execution_id: str, targets: int, details: str
) -> Event:
    """A maintenance window execution started (its targets resolved)."""
    return make(
        WINDOW_STARTED,
        at,
        Severity.INFO,
        execution_id,
        f"window {window} started: {details}",
        window=window,
        window_execution_id=execution_id,
        target_count=targets,
    )


def window_finished(
    at: datetime,
    window: str,
    execution_id: str,
    status: str,
    details: str,
    scheduled_for: datetime | None = None,
) -> Event:
    """A maintenance window execution ended (SUCCESS, FAILED, TIMED_OUT, CANCELLED…), or a
    scheduled time ended at once (missed: FAILED; SKIPPED_OVERLAPPING) — then named by the
    window and ``scheduled_for``."""
    severity = Severity.INFO if status == "SUCCESS" else Severity.ERROR
    if status in ("CANCELLED", "SKIPPED_OVERLAPPING"):
        severity = Severity.WARNING
    when = scheduled_for.isoformat() if scheduled_for is not None else None
    return make(
        WINDOW_FINISHED,
        at,
        severity,
        execution_id or f"{window}@{when}",
        f"window {window} finished {status}" + (f": {details}" if details else ""),
        window=window,
        window_execution_id=execution_id or None,
        status=status,
        status_details=details,
        **({"scheduled_for": when} if when else {}),
    )


def remediation_queued(at: datetime, rule: str, resource_id: str, planned: datetime) -> Event:
    """A non-compliant resource was marked for automatic remediation, due at ``planned``."""
    return make(
        REMEDIATION_QUEUED,
        at,
        Severity.WARNING,
        f"{rule}/{resource_id}",
        f"remediation of rule {rule} on {resource_id} queued, planned for {planned.isoformat()}",
        rule=rule,
        resource_id=resource_id,
        planned_start=planned.isoformat(),
    )


def remediation_started(
    at: datetime, rule: str, resource_id: str, run_id: str, runbook: str, actor: str
) -> Event:
    """A remediation run started its runbook."""
    return make(
        REMEDIATION_STARTED,
        at,
        Severity.INFO,
        f"{rule}/{resource_id}",
        f"remediation of rule {rule} on {resource_id} started runbook {runbook}",
        rule=rule,
        resource_id=resource_id,
        run_id=run_id,
        runbook=runbook,
        actor=actor,
    )


def remediation_finished(
    at: datetime, rule: str, resource_id: str, run_id: str, succeeded: bool
) -> Event:
    """A remediation run ended."""
    status = "SUCCEEDED" if succeeded else "FAILED"
    return make(
        REMEDIATION_FINISHED,
        at,
        Severity.INFO if succeeded else Severity.ERROR,
        f"{rule}/{resource_id}",
        f"remediation of rule {rule} on {resource_id} {status.lower()}",
        rule=rule,
        resource_id=resource_id,
        run_id=run_id,
        status=status,
    )


@dataclass(frozen=True)
class NewFinding:
    """What a ``finding.new`` event lists of one finding."""

    vulnerability_id: str
    package: str
    severity: str
    known_exploited: bool


MAX_LISTED = 20
"""Findings listed in one ``finding.new`` event at most (the count is always exact)."""


def findings_new(at: datetime, node_id: str, found: Sequence[NewFinding]) -> Event:
    """New ACTIVE findings of one node's assessment round that are HIGH, CRITICAL or known
    exploited, summarised in one event."""
    critical = sum(f.severity == "CRITICAL" for f in found)
    high = sum(f.severity == "HIGH" for f in found)
    kev = sum(f.known_exploited for f in found)
    severity = Severity.CRITICAL if critical or kev else Severity.WARNING
    parts = [f"{n} {label}" for n, label in ((critical, "critical"), (high, "high")) if n]
    if kev:
        parts.append(f"{kev} known exploited")
    ids = ", ".join(f.vulnerability_id for f in found[:3]) + (", …" if len(found) > 3 else "")
    return make(
        FINDING_NEW,
        at,
        severity,
        node_id,
        f"{len(found)} new finding(s) on {node_id} ({', '.join(parts)}): {ids}",
        node_id=node_id,
        count=len(found),
        critical=critical,
        high=high,
        known_exploited=kev,
        findings=[
            {
                "vulnerability_id": f.vulnerability_id,
                "package": f.package,
                "severity": f.severity,
                "known_exploited": f.known_exploited,
            }
            for f in found[:MAX_LISTED]
        ],
    )


def vulndb_missing(at: datetime, path: str) -> Event:
    """The vulnerability database file is missing: nothing is assessed."""
    return make(
        VULNDB_MISSING,
        at,
        Severity.ERROR,
        path,
        f"no vulnerability database at {path}: inventories are not assessed",
        path=path,
    )


def vulndb_stale(at: datetime, path: str, warning: str) -> Event:
    """The vulnerability database is older than its allowed age (or empty)."""
    return make(VULNDB_STALE, at, Severity.WARNING, path, warning, path=path)


def vulndb_updated(at: datetime, path: str, message: str, ok: bool) -> Event:
    """The server's scheduled database update ran (``ok``) or failed."""
    if ok:
        return make(VULNDB_UPDATED, at, Severity.INFO, path, f"vulnerability database {message}")
    return make(
        VULNDB_UPDATE_FAILED,
        at,
        Severity.ERROR,
        path,
        f"vulnerability database update failed: {message}",
        path=path,
        message=message,
    )


def notification_failed(
    at: datetime, event_id: int, event_type: str, target: str, attempts: int, error: str
) -> Event:
    """A notification was given up on after its last attempt (never notified itself)."""
    return make(
        NOTIFICATION_FAILED,
        at,
        Severity.ERROR,
        target,
        f"notification of event {event_id} ({event_type}) to target {target} failed after "
        f"{attempts} attempt(s): {error}",
        event_id=event_id,
        event_type=event_type,
        target=target,
        attempts=attempts,
        error=error,
    )
