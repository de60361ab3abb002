"""CISA Known Exploited Vulnerabilities: the JSON catalogue → one advisory per CVE.

``{"catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", "dateAdded",
"dueDate", "vulnerabilityName", "knownRansomwareCampaignUse", …}]}``.  Each entry becomes an
advisory of the reserved ecosystem :data:`~patchwarden.core.exploit.KEV_ECOSYSTEM` whose
package is the CVE id; the due date, the date added and the ransomware use travel in
``events``.  The catalogue is about 1.5 MB: parsed whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from patchwarden.adapters.feeds.common import Warn, feed_error, short
from patchwarden.core import exploit
from patchwarden.core.vuln import Advisory, AdvisoryStatus

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_REQUIRED = ("cveID", "dateAdded", "dueDate")


def parse(path: Path, warn: Warn, feed: str = "cisa-kev") -> Iterator[Advisory]:
    """Stream the advisories of a KEV catalogue; corrupt input raises ``AdapterError``."""
    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise feed_error(feed, path, f"not a KEV catalogue JSON: {exc}") from None
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("vulnerabilities"), list):
        raise feed_error(feed, path, 'not a KEV catalogue: no "vulnerabilities" list')
    entries: list[object] = raw["vulnerabilities"]
    checked = [_entry(feed, path, n, e) for n, e in enumerate(entries)]
    count = raw.get("count")
    if isinstance(count, int) and count != len(entries):
        warn(f"{feed}: {path.name}: count says {count}, the catalogue has {len(entries)}")
    yield from checked


def _entry(feed: str, path: Path, n: int, entry: object) -> Advisory:
    where = f"vulnerabilities[{n}]"
    if not isinstance(entry, dict):
        raise feed_error(feed, path, f"{where}: not an object")
    missing = [k for k in _REQUIRED if not isinstance(entry.get(k), str) or not entry[k]]
    if missing:
        raise feed_error(feed, path, f"{where}: missing {', '.join(missing)}")
    cve = entry["cveID"].strip()
    if not CVE_ID.fullmatch(cve):
        raise feed_error(feed, path, f"{where}: cveID {cve[:40]!r} is not a CVE id")
    dates = {}
    for key in ("dateAdded", "dueDate"):
        try:
            dates[key] = date.fromisoformat(entry[key].strip())
        except ValueError:
            problem = f"{where} ({cve}): {key} {entry[key][:40]!r} is not a date"
            raise feed_error(feed, path, problem) from None
    added = dates["dateAdded"]
    ransomware = entry.get("knownRansomwareCampaignUse")
    return Advisory(
        id=cve,
        source=feed,
        ecosystem=exploit.KEV_ECOSYSTEM,
        package=cve,
        status=AdvisoryStatus.AFFECTED,
        events=(
            (exploit.KEV_DUE_DATE, dates["dueDate"].isoformat()),
            (exploit.KEV_DATE_ADDED, added.isoformat()),
            (exploit.KEV_RANSOMWARE, ransomware if isinstance(ransomware, str) else ""),
        ),
        summary=short(entry.get("vulnerabilityName")),
        published=datetime(added.year, added.month, added.day, tzinfo=UTC),
    )
