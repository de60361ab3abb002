"""OSV records (``https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip``).

A dump is a zip of one JSON record per member; it is read member by member.  One
:class:`Advisory` per (record, affected entry): the ECOSYSTEM ranges' events in order
(``introduced`` / ``fixed`` / ``last_affected`` / ``limit``), status FIXED when a ``fixed``
event exists (``fixed_version`` = the last one) else AFFECTED; ``aliases`` = the record's
``aliases`` and ``upstream`` ids; the CVSS vector (kept as the vector: CVSS_V3, else V4,
else V2) and the vendor's rating (an ``Ubuntu`` severity, the Ubuntu ``cves_map``
priorities, ``database_specific.severity``, or the Red Hat-style ``Moderate:`` summary
prefix of AlmaLinux/Rocky records).  Withdrawn records are skipped.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from patchwarden.adapters.feeds.common import Tally, Warn, feed_error, short, timestamp
from patchwarden.core.vuln import Advisory, AdvisoryStatus

SOURCE = "osv"
MAX_MEMBER = 64 << 20
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_CVSS_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")
_UBUNTU_PRIORITY = ("negligible", "low", "medium", "high", "critical")
Error = Callable[[str], Exception]
_RH_SEVERITY = re.compile(r"^(Low|Moderate|Important|Critical):\s")


def parse(path: Path, warn: Warn, feed: str = SOURCE) -> Iterator[Advisory]:
    """Advisories of an OSV dump (zip) or of one OSV record (JSON file)."""
    tally = Tally()
    if path.suffix == ".zip" or _starts_with(path, b"PK") or zipfile.is_zipfile(path):
        yield from _zip(path, tally, feed)
    else:
        try:
            record = json.loads(path.read_bytes())
        except (ValueError, OSError) as exc:
            raise feed_error(feed, path, f"not an OSV JSON record ({exc})") from None
        yield from advisories(record, tally, lambda m: feed_error(feed, path, m))
    tally.report(warn, f"{feed}: {path.name}")


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def _zip(path: Path, tally: Tally, feed: str) -> Iterator[Advisory]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a member name not UTF-8
        raise feed_error(feed, path, f"not a readable zip ({exc})") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            where = f"member {info.filename}"
            if info.file_size > MAX_MEMBER:
                raise feed_error(feed, path, f"{where}: larger than {MAX_MEMBER >> 20} MiB")
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
                raise feed_error(feed, path, f"corrupt zip, {where}: {exc}") from None
            try:
                record = json.loads(data)
            except ValueError as exc:
                raise feed_error(feed, path, f"{where}: not valid JSON ({exc})") from None
            yield from advisories(record, tally, _error_in(feed, path, where))


def _error_in(feed: str, path: Path, where: str) -> Error:
    return lambda message: feed_error(feed, path, f"{where}: {message}")


def advisories(record: object, tally: Tally, error: Error) -> Iterator[Advisory]:
    """The advisories of one OSV record; ``error(message)`` builds the exception to raise."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise error("not an OSV record (an object with an 'id')")
    if record.get("withdrawn"):
        return
    affected = record.get("affected")
    affected = [] if affected is None else affected
    if not isinstance(affected, list):
        raise error("'affected' is not a list")
    vuln_id: str = record["id"]
    aliases = _aliases(record, vuln_id)
    summary = short(record.get("summary") or record.get("details"))
    published, modified = timestamp(record.get("published")), timestamp(record.get("modified"))
    for entry in affected:
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or not all(
            isinstance(package.get(k), str) and package.get(k) for k in ("ecosystem", "name")
        ):
            tally.add("affected entries without a package ecosystem/name skipped", vuln_id)
            continue
        ranges = _ranges(entry.get("ranges"), error)
        if not ranges:
            tally.add("affected entries without an ECOSYSTEM range skipped", vuln_id)
            continue
        severity = _list(entry.get("severity")) or _list(record.get("severity"))
        specific = [entry.get("database_specific"), record.get("database_specific")]
        # one advisory per range: ranges are evaluated independently (OSV IsVulnerable);
        # concatenating their events would mis-toggle overlapping ranges
        for events in ranges:
            fixed = [value for kind, value in events if kind == "fixed"]
            yield Advisory(
                id=vuln_id,
                source=SOURCE,
                ecosystem=package["ecosystem"],
                package=package["name"],
                status=AdvisoryStatus.FIXED if fixed else AdvisoryStatus.AFFECTED,
                fixed_version=fixed[-1] if fixed else None,
                events=events,
                aliases=aliases,
                cvss_vector=_cvss(severity) or _cves_map_cvss(specific),
                vendor_severity=_vendor(severity, specific, record.get("summary")),
                summary=summary,
                published=published,
                modified=modified,
            )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _aliases(record: Mapping[str, Any], vuln_id: str) -> tuple[str, ...]:
    ids = [*_list(record.get("aliases")), *_list(record.get("upstream"))]
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i and i != vuln_id))


def _ranges(ranges: object, error: Error) -> list[tuple[tuple[str, str], ...]]:
    """The events of each ECOSYSTEM range (ranges without usable events left out)."""
    found: list[tuple[tuple[str, str], ...]] = []
    for rng in _list(ranges):
        if not isinstance(rng, dict) or rng.get("type") != "ECOSYSTEM":
            continue
        events: list[tuple[str, str]] = []
        for event in _list(rng.get("events")):
            if not isinstance(event, dict) or len(event) != 1:
                raise error(f"malformed range event {event!r}")
            ((kind, value),) = event.items()
            if kind in EVENT_KINDS and isinstance(value, str):
                events.append((kind, value))
        if events:
            found.append(tuple(events))
    return found


def _cvss(severity: Sequence[Any]) -> str:
    found = {
        s["type"]: s.get("score")
        for s in reversed(severity)
        if isinstance(s, dict) and isinstance(s.get("type"), str)
    }
    for kind in _CVSS_PREFERENCE:
        if isinstance(found.get(kind), str) and found[kind]:
            return str(found[kind])
    return ""


def _cves(specific: Sequence[object]) -> list[Any]:
    for block in specific:
        if isinstance(block, dict) and isinstance(block.get("cves_map"), dict):
            return _list(block["cves_map"].get("cves"))
    return []


def _cves_map_cvss(specific: Sequence[object]) -> str:
    cves = [c for c in _cves(specific) if isinstance(c, dict)]
    return _cvss(_list(cves[0].get("severity"))) if len(cves) == 1 else ""


def _vendor(severity: Sequence[Any], specific: Sequence[object], summary: object) -> str:
    ratings = [
        s.get("score") for s in severity if isinstance(s, dict) and s.get("type") == "Ubuntu"
    ]
    for cve in _cves(specific):
        if isinstance(cve, dict):
            sev = _list(cve.get("severity"))
            ratings += [
                s.get("score") for s in sev if isinstance(s, dict) and s.get("type") == "Ubuntu"
            ]
    known = [r for r in ratings if isinstance(r, str) and r]
    if known:
        return max(known, key=lambda r: _UBUNTU_PRIORITY.index(r) if r in _UBUNTU_PRIORITY else -1)
    for block in specific:
        if isinstance(block, dict) and isinstance(block.get("severity"), str):
            return str(block["severity"])
    match = _RH_SEVERITY.match(summary) if isinstance(summary, str) else None
    return match.group(1) if match else ""
