"""FIRST EPSS scores: the daily CSV (usually gzip) → one advisory per CVE.

``#model_version:v2025.03.14,score_date:2025-03-15T12:55:00Z`` (optional), then the header
``cve,epss,percentile``, then one row per CVE.  Each row becomes an advisory of the reserved
ecosystem :data:`~patchwarden.core.exploit.EPSS_ECOSYSTEM` whose package is the CVE id; the
score and percentile travel in ``events``.  Streamed row by row (about 300,000 rows).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from patchwarden.adapters.feeds.common import Warn, feed_error, timestamp
from patchwarden.core import exploit
from patchwarden.core.vuln import Advisory, AdvisoryStatus

GZIP_MAGIC = b"\x1f\x8b"
CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_SCORE_DATE = re.compile(r"score_date:([0-9T:.+\-Z]+)")


def parse(path: Path, warn: Warn, feed: str = "epss") -> Iterator[Advisory]:
    """Stream the advisories of an EPSS CSV (plain or gzip); corrupt input raises
    ``AdapterError`` naming the line."""
    try:
        with path.open("rb") as probe:
            gz = probe.read(2) == GZIP_MAGIC
        raw = cast(IO[bytes], gzip.GzipFile(path, "rb") if gz else path.open("rb"))
        with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            yield from _rows(feed, path, text)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        raise feed_error(feed, path, f"not a readable EPSS CSV: {exc}") from None


def _rows(feed: str, path: Path, text: IO[str]) -> Iterator[Advisory]:
    first = text.readline()
    published = None
    line = 1
    if first.startswith("#"):
        match = _SCORE_DATE.search(first)
        published = timestamp(match.group(1)) if match else None
        first = text.readline()
        line += 1
    if [c.strip() for c in first.strip().split(",")] != ["cve", "epss", "percentile"]:
        raise feed_error(
            feed, path, f"line {line}: expected the header cve,epss,percentile, got {first[:60]!r}"
        )
    for row in csv.reader(text):
        line += 1
        if not row:
            continue
        if len(row) != 3:
            raise feed_error(feed, path, f"line {line}: expected 3 fields, got {len(row)}")
        cve, score, percentile = (c.strip() for c in row)
        if not CVE_ID.fullmatch(cve):
            raise feed_error(feed, path, f"line {line}: {cve[:40]!r} is not a CVE id")
        for name, value in (("epss", score), ("percentile", percentile)):
            if not _probability(value):
                raise feed_error(feed, path, f"line {line} ({cve}): bad {name} {value[:40]!r}")
        yield Advisory(
            id=cve,
            source=feed,
            ecosystem=exploit.EPSS_ECOSYSTEM,
            package=cve,
            status=AdvisoryStatus.AFFECTED,
            events=((exploit.EPSS_SCORE, score), (exploit.EPSS_PERCENTILE, percentile)),
            modified=published,
        )


def _probability(value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and 0.0 <= number <= 1.0
