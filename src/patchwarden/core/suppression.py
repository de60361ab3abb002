"""The status of a finding: suppressions (with expiry) and the ACTIVE → CLOSED → reopened life.

Inspector's rules, as pure functions of ``now``:

- A **suppression** matches a finding when every criterion it gives matches (a criterion
  matches when any of its globs does): ``vulnerability_ids`` against the finding's id and
  aliases (case-insensitive), ``packages`` against the binary or source package name,
  ``nodes`` against any name of the node (hostname, root, node id), ``node_tags`` (on the
  server: every ``key → value glob`` given must match one of the node's tags, which reach
  the rule as names ``tag:KEY=VALUE``, :func:`tag_names`).  A matching, unexpired
  suppression makes the finding SUPPRESSED; once ``expires_at`` has passed it is ACTIVE again.
- **Lifecycle**: a finding keeps its ``first_observed`` across scans; ``last_observed`` is
  the latest scan that saw it.  A finding no longer seen becomes CLOSED; if it returns within
  :data:`REOPEN_WINDOW` of closing it reopens with its original ``first_observed``, later it
  is new.  CLOSED findings are reported and kept for :data:`CLOSED_RETENTION`, then dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from patchwarden.core.vuln import Finding, FindingStatus
from patchwarden.errors import InputError

TAG_PREFIX = "tag:"
"""A node name that is one of its tags: ``tag:KEY=VALUE``."""
REOPEN_WINDOW = timedelta(days=7)
CLOSED_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Suppression:
    """A suppression rule: which findings, why, until when."""

    name: str
    reason: str
    vulnerability_ids: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    """Aware datetime after which the rule no longer applies; ``None``: never expires."""
    node_tags: tuple[tuple[str, str], ...] = ()
    """``(key, value glob)``: every one must match a tag of the node."""

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise InputError("Reason: must say why the findings are suppressed")
        if not (self.vulnerability_ids or self.packages or self.nodes or self.node_tags):
            raise InputError("give at least one of VulnerabilityIds, Packages, Nodes, NodeTags")

    def in_force(self, now: datetime) -> bool:
        """Whether the rule applies at ``now`` (not yet expired)."""
        return self.expires_at is None or now < self.expires_at

    def matches(self, finding: Finding, node_names: Collection[str]) -> bool:
        """Whether every criterion the rule gives matches ``finding`` on that node."""
        if self.vulnerability_ids:
            ids = [i.upper() for i in (finding.vulnerability_id, *finding.aliases)]
            globs = [g.upper() for g in self.vulnerability_ids]
            if not any(fnmatchcase(i, g) for i in ids for g in globs):
                return False
        if self.packages:
            names = (finding.package_name, finding.source_name)
            if not any(fnmatchcase(n, g) for n in names for g in self.packages):
                return False
        if self.nodes:
            hosts = [n.lower() for n in node_names if not n.startswith(TAG_PREFIX)]
            if not any(fnmatchcase(n, g.lower()) for n in hosts for g in self.nodes):
                return False
        if self.node_tags:
            tags = dict(
                n[len(TAG_PREFIX) :].partition("=")[::2]
                for n in node_names
                if n.startswith(TAG_PREFIX)
            )
            if not all(
                key in tags and fnmatchcase(tags[key], glob) for key, glob in self.node_tags
            ):
                return False
        return True


def tag_names(tags: Mapping[str, str] | None) -> tuple[str, ...]:
    """A node's tags as the names a suppression's ``node_tags`` reads (``tag:KEY=VALUE``)."""
    return tuple(f"{TAG_PREFIX}{key}={value}" for key, value in sorted((tags or {}).items()))


def suppress(
    findings: Iterable[Finding],
    suppressions: Sequence[Suppression],
    node_names: Collection[str],
    now: datetime,
) -> tuple[Finding, ...]:
    """Findings with status ACTIVE or SUPPRESSED (by the first matching rule in name order);
    CLOSED ones are left as they are."""
    rules = sorted((s for s in suppressions if s.in_force(now)), key=lambda s: s.name)
    out = []
    for f in findings:
        if f.status is FindingStatus.CLOSED:
            out.append(f)
            continue
        rule = next((r for r in rules if r.matches(f, node_names)), None)
        if rule is None and f.status is FindingStatus.ACTIVE and not f.suppressed_by:
            out.append(f)  # as the matcher made it (the usual case: no copy)
        elif rule is None:
            out.append(
                replace(f, status=FindingStatus.ACTIVE, suppressed_by="", suppression_reason="")
            )
        else:
            out.append(
                replace(
                    f,
                    status=FindingStatus.SUPPRESSED,
                    suppressed_by=rule.name,
                    suppression_reason=rule.reason,
                )
            )
    return tuple(out)


@dataclass(frozen=True)
class FindingRecord:
    """What the state keeps of one finding of one node between scans."""

    finding: Finding
    """As last observed (``first_observed``/``last_observed`` set)."""
    closed_at: datetime | None = None
    """When a scan first missed it; ``None`` while it is open."""


def track(
    findings: Iterable[Finding],
    history: Iterable[FindingRecord],
    now: datetime,
    *,
    close_unseen: bool = True,
) -> tuple[tuple[Finding, ...], tuple[FindingRecord, ...]]:
    """(findings to report, records to keep) after a scan at ``now`` that saw ``findings``.

    A current finding is recognised in the history by its key, or by an alias that was
    the primary id of a kept finding of the same package (it was renamed: a CVE was assigned
    to a DSA-only finding).  A kept finding the scan did not see is CLOSED — unless
    ``close_unseen`` is false (the scan could not have seen it: the database lacked the
    release's data), then it is kept and reported as it was.
    """
    previous = {record.finding.key: record for record in history}
    used: set[int] = set()
    reported: list[Finding] = []
    kept: list[FindingRecord] = []
    for f in findings:
        rec = _previous(f, previous)
        first = now
        if rec is not None:
            used.add(id(rec))
            reopened = rec.closed_at is None or now - rec.closed_at <= REOPEN_WINDOW
            if reopened and rec.finding.first_observed is not None:
                first = rec.finding.first_observed
        current = (
            f
            if (f.first_observed, f.last_observed) == (first, now)
            else replace(f, first_observed=first, last_observed=now)
        )
        reported.append(current)
        kept.append(FindingRecord(current))
    for old in previous.values():
        if id(old) in used:
            continue
        if not close_unseen:
            reported.append(old.finding)
            kept.append(old)
            continue
        closed_at = old.closed_at or now
        if now - closed_at > CLOSED_RETENTION:
            continue
        closed = replace(
            old.finding, status=FindingStatus.CLOSED, suppressed_by="", suppression_reason=""
        )
        reported.append(closed)
        kept.append(FindingRecord(closed, closed_at))
    return tuple(reported), tuple(kept)


def _previous(
    f: Finding, previous: Mapping[tuple[str, str, str], FindingRecord]
) -> FindingRecord | None:
    for vid in (f.vulnerability_id, *f.aliases):
        rec = previous.get((vid, f.package_name, f.package_arch))
        if rec is not None:
            return rec
    return None
