"""The Debian security tracker JSON (``https://security-tracker.debian.org/tracker/data/json``).

Shape: ``{source package: {CVE/TEMP id: {description, scope, debianbug, releases:
{codename: {status, repositories, fixed_version, urgency, nodsa, nodsa_reason}}}}}``.
The file is one ~60 MB object; it is streamed one source package at a time
(:mod:`.jsonstream`).  One :class:`Advisory` per (package, id, release):

- ``resolved`` + ``fixed_version`` → FIXED (``fixed_version`` ``"0"`` → NOT_AFFECTED);
- ``open`` → AFFECTED, ``undetermined`` → UNDETERMINED, except that ``nodsa_reason``
  ``ignored``/``postponed`` or urgency ``end-of-life`` make them WONT_FIX;
- ``vendor_severity`` is the urgency without its ``**`` suffix (``high**`` → ``high``);
- ``releases`` may be an empty list: no advisory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from patchwarden.adapters.feeds.common import Tally, Warn, feed_error, short
from patchwarden.adapters.feeds.jsonstream import JsonShapeError, iter_object
from patchwarden.core.vuln import Advisory, AdvisoryStatus

SOURCE = "debian-tracker"

DEBIAN_RELEASES: Mapping[str, str] = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    "sid": "sid",
}
"""Debian codename → the OSV release (``Debian:<release>``); sid stays ``Debian:sid``."""

WONT_FIX_REASONS = frozenset({"ignored", "postponed"})
"""``nodsa_reason`` values that mean the release will not get a fix."""


def ecosystem(codename: str) -> str | None:
    """``bookworm`` → ``Debian:12``; ``None`` for a codename not in :data:`DEBIAN_RELEASES`."""
    number = DEBIAN_RELEASES.get(codename)
    return f"Debian:{number}" if number else None


def status_of(release: Mapping[str, Any]) -> tuple[AdvisoryStatus, str | None] | None:
    """(status, fixed version) of one release entry; ``None`` when it cannot be read."""
    status = release.get("status")
    fixed = release.get("fixed_version")
    if status == "resolved":
        if fixed == "0":
            return AdvisoryStatus.NOT_AFFECTED, None
        if isinstance(fixed, str) and fixed:
            return AdvisoryStatus.FIXED, fixed
        return None
    if status not in ("open", "undetermined"):
        return None
    if release.get("nodsa_reason") in WONT_FIX_REASONS or urgency_of(release) == "end-of-life":
        return AdvisoryStatus.WONT_FIX, None
    if status == "open":
        return AdvisoryStatus.AFFECTED, None
    return AdvisoryStatus.UNDETERMINED, None


def urgency_of(release: Mapping[str, Any]) -> str:
    """The urgency without the ``**`` mark (set when it was not assigned by hand)."""
    urgency = release.get("urgency")
    return urgency.rstrip("*").strip() if isinstance(urgency, str) else ""


def parse(path: Path, warn: Warn, feed: str = SOURCE) -> Iterator[Advisory]:
    """Stream the advisories of a tracker JSON file; corrupt input raises AdapterError."""
    tally = Tally()
    try:
        with path.open(encoding="utf-8") as stream:
            for package, entries in iter_object(stream):
                if not isinstance(entries, dict):
                    raise feed_error(feed, path, f"package {package!r}: expected an object")
                for vuln_id, entry in entries.items():
                    yield from _entry(package, vuln_id, entry, tally, feed, path)
    except JsonShapeError as exc:
        raise feed_error(feed, path, f"not a security tracker JSON object: {exc}") from None
    except UnicodeDecodeError as exc:
        raise feed_error(feed, path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read ({exc.strerror or exc})") from None
    tally.report(warn, f"{feed}: {path.name}")


def _entry(
    package: str, vuln_id: str, entry: object, tally: Tally, feed: str, path: Path
) -> Iterator[Advisory]:
    if not isinstance(entry, dict):
        raise feed_error(feed, path, f"{package}/{vuln_id}: expected an object")
    releases = entry.get("releases") or {}
    if not isinstance(releases, dict):
        raise feed_error(feed, path, f"{package}/{vuln_id}: 'releases' is not an object")
    summary = short(entry.get("description"))
    for codename, release in releases.items():
        if not isinstance(release, dict):
            raise feed_error(feed, path, f"{package}/{vuln_id}/{codename}: expected an object")
        eco = ecosystem(codename)
        if eco is None:
            tally.add("unknown release codenames skipped", codename)
            continue
        decided = status_of(release)
        if decided is None:
            tally.add(
                "release entries with an unknown status or no fixed version (undetermined)",
                f"{package}/{vuln_id}/{codename}",
            )
            decided = (AdvisoryStatus.UNDETERMINED, None)
        yield Advisory(
            id=vuln_id,
            source=SOURCE,
            ecosystem=eco,
            package=package,
            status=decided[0],
            fixed_version=decided[1],
            vendor_severity=urgency_of(release),
            summary=summary,
        )
