"""NVD CVE records (the API 2.0 JSON and the yearly 2.0 JSON feeds, plain or gzip) → one
advisory per CVE with NVD's CVSS base score, for findings that have no better severity.

``{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": {"id", "published",
"lastModified", "vulnStatus", "descriptions": [{"lang", "value"}], "metrics":
{"cvssMetricV40"|"cvssMetricV31"|"cvssMetricV30"|"cvssMetricV2": [{"source", "type":
"Primary"|"Secondary", "cvssData": {"version", "vectorString", "baseScore",
"baseSeverity"}}]}}}]}`` — the same shape from ``/rest/json/cves/2.0`` and from
``nvdcve-2.0-YEAR.json.gz``.  The ``vulnerabilities`` array is streamed one record at a time
(:func:`~.jsonstream.iter_object`): a year of CVEs never sits in memory whole.

Each CVE becomes an advisory of the reserved ecosystem :data:`NVD_ECOSYSTEM` whose package
is the CVE id, carrying the chosen metric's vector and base score: CVSS v3.1, else v3.0,
else v4.0, else v2 — NVD's own (``Primary``) metric of a version before a ``Secondary``
one; a v4.0 metric without a usable ``baseScore`` gets its vector's base score from our own
calculator (:mod:`patchwarden.core.cvss4`).  ``REJECTED`` CVEs are skipped.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from patchwarden.adapters.feeds.common import Warn, feed_error
from patchwarden.adapters.feeds.jsonstream import JsonShapeError, iter_object
from patchwarden.adapters.feeds.kev import CVE_ID
from patchwarden.core import exploit
from patchwarden.core.cvss import try_base_score, version_of
from patchwarden.core.vuln import Advisory, AdvisoryStatus

NVD_ECOSYSTEM = exploit.NVD_ECOSYSTEM
METRICS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV40", "cvssMetricV2")
"""Metric lists in the order of preference."""


def parse(path: Path, warn: Warn, feed: str = "nvd") -> Iterator[Advisory]:
    """Stream the advisories of an NVD 2.0 JSON file; corrupt input raises ``AdapterError``."""
    try:
        with path.open("rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        raw = cast(IO[bytes], gzip.GzipFile(path, "rb") if gz else path.open("rb"))
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read: {exc.strerror or exc}") from None
    seen_format = False
    skipped = 0
    with raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
        try:
            for key, value in iter_object(text, arrays=("vulnerabilities",)):
                if key == "format":
                    if value != "NVD_CVE":
                        raise feed_error(feed, path, f"format {str(value)[:40]!r} is not NVD_CVE")
                    seen_format = True
                elif key == "vulnerabilities":
                    advisory = _record(feed, path, value)
                    if isinstance(advisory, Advisory):
                        yield advisory
                    elif advisory == _BAD_ID:
                        skipped += 1
        except (JsonShapeError, UnicodeDecodeError, EOFError, OSError) as exc:
            raise feed_error(feed, path, f"not NVD 2.0 JSON: {exc}") from None
    if not seen_format:
        raise feed_error(feed, path, 'not NVD 2.0 JSON: no "format": "NVD_CVE"')
    if skipped:
        warn(f"{feed}: {path.name}: {skipped} record(s) without a usable CVE id skipped")


_BAD_ID = "bad id"
_REJECTED = "rejected"


def _record(feed: str, path: Path, item: Any) -> Advisory | str:
    """The record's advisory, or why there is none (:data:`_BAD_ID`, :data:`_REJECTED`)."""
    cve = item.get("cve") if isinstance(item, dict) else None
    if not isinstance(cve, dict):
        raise feed_error(feed, path, 'a "vulnerabilities" entry has no "cve" object')
    cve_id = str(cve.get("id", "")).strip()
    if not CVE_ID.fullmatch(cve_id):
        return _BAD_ID
    if str(cve.get("vulnStatus", "")).lower() == "rejected":
        return _REJECTED
    vector, score = _metric(cve.get("metrics"))
    descriptions = cve.get("descriptions")
    summary = next(
        (
            str(d.get("value", ""))
            for d in (descriptions if isinstance(descriptions, list) else [])
            if isinstance(d, dict) and d.get("lang") == "en"
        ),
        "",
    )
    return Advisory(
        id=cve_id,
        source=feed,
        ecosystem=NVD_ECOSYSTEM,
        package=cve_id,
        status=AdvisoryStatus.AFFECTED,
        cvss_vector=vector,
        cvss_score=score,
        summary=summary[:500],
        published=_time(cve.get("published")),
        modified=_time(cve.get("lastModified")),
    )


def _metric(metrics: Any) -> tuple[str, float | None]:
    """(vector, base score) of the preferred metric; empty when there is none."""
    if not isinstance(metrics, dict):
        return "", None
    for key in METRICS:
        listed = metrics.get(key)
        entries = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
        entries.sort(key=lambda m: m.get("type") != "Primary")
        for entry in entries:
            data = entry.get("cvssData")
            if not isinstance(data, dict):
                continue
            vector = str(data.get("vectorString", ""))
            score = data.get("baseScore")
            if isinstance(score, int | float) and 0 <= score <= 10:
                return vector, float(score)
            if key == "cvssMetricV40" and version_of(vector) == "4.0":
                computed = try_base_score(vector)  # no usable baseScore: our v4.0 calculator
                if computed is not None:
                    return vector, computed
    return "", None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
