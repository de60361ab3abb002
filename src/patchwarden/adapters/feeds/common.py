"""What the feed parsers share: one-line errors and counted warnings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.errors import AdapterError

Warn = Callable[[str], None]
_FRACTION = re.compile(r"(\.\d{6})\d+")


def feed_error(feed: str, path: Path, problem: str) -> AdapterError:
    """``<feed>: <file>: <problem>`` — one line naming the feed, the file and the problem."""
    return AdapterError(f"{feed}: {path.name}: {problem}")


class Tally:
    """Counts dropped or odd input by kind, with a few examples, for one warning per kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, kind: str, example: str) -> None:
        """Count one occurrence of ``kind``."""
        self.counts[kind] += 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(example)

    def report(self, warn: Warn, prefix: str) -> None:
        """One ``warn`` line per kind: ``prefix: kind: N (e.g. a, b, c)``."""
        for kind, count in sorted(self.counts.items()):
            examples = ", ".join(self.examples.get(kind, []))
            more = ", …" if count > len(self.examples.get(kind, [])) else ""
            warn(f"{prefix}: {kind}: {count} (e.g. {examples}{more})")


def timestamp(value: object) -> datetime | None:
    """An RFC 3339 time (``2024-01-02T03:04:05.123456789Z``) as aware UTC, else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def short(text: object, limit: int = 500) -> str:
    """The first paragraph of ``text``, at most ``limit`` characters."""
    if not isinstance(text, str):
        return ""
    first = text.strip().split("\n\n", 1)[0].strip()
    first = " ".join(first.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
