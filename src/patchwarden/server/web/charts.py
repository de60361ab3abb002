"""Inline SVG charts, pure functions of numbers.  Each chart has ``role="img"`` and a label
that says what it shows; the page puts the same numbers in a table next to it, so nothing
depends on seeing the colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

STATE_CLASSES = {
    "COMPLIANT": "ok",
    "NON_COMPLIANT": "bad",
    "UNREPORTED": "none",
    "CRITICAL": "crit",
    "HIGH": "high",
    "MEDIUM": "med",
    "LOW": "low",
    "INFORMATIONAL": "info",
    "UNTRIAGED": "none",
}
"""Series name → CSS class of its colour (console.css defines both themes)."""


def stacked_columns(
    columns: Sequence[tuple[str, Mapping[str, int]]],
    series: Sequence[str],
    label: str,
    *,
    slots: int | None = None,
    height: int = 60,
    bar: int = 18,
    gap: int = 8,
) -> Markup:
    """Columns (e.g. one per day, labelled by the part of their name after the first
    ``-``) of stacked counts (e.g. per compliance state); with ``slots``, room for that
    many columns, the given ones at the right (a trend that has only begun)."""
    count = max(slots or 0, len(columns), 1)
    top = max((sum(c.get(s, 0) for s in series) for _, c in columns), default=0) or 1
    step = bar + gap
    width = count * step
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height + 14}">'
    ]
    first = count - len(columns)
    for i, (name, counts) in enumerate(columns):
        x, y = (first + i) * step + gap / 2, float(height)
        for s in series:
            n = counts.get(s, 0)
            if not n:
                continue
            h = height * n / top
            y -= h
            parts.append(
                f'<rect class="{STATE_CLASSES.get(s, "none")}" x="{x}" y="{y:.1f}" '
                f'width="{bar}" height="{h:.1f}"><title>{escape(name)}: {n} '
                f"{escape(s)}</title></rect>"
            )
        short = name.split("-", 1)[-1]
        parts.append(
            f'<text x="{x + bar / 2}" y="{height + 11}" text-anchor="middle">{escape(short)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar(
    counts: Mapping[str, int],
    series: Sequence[str],
    label: str,
    *,
    classes: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
) -> Markup:
    """One horizontal bar split by ``series`` (proportional widths); ``classes`` and
    ``titles`` name the colour class and the words of a series where they are not
    :data:`STATE_CLASSES` and the series' own name."""
    colour = {**STATE_CLASSES, **(classes or {})}
    words = titles or {}
    total = sum(counts.get(s, 0) for s in series)
    parts = [
        f'<svg class="bar" role="img" aria-label="{escape(label)}" viewBox="0 0 100 6" '
        'preserveAspectRatio="none">'
    ]
    x = 0.0
    for s in series:
        n = counts.get(s, 0)
        if not n or not total:
            continue
        w = 100 * n / total
        parts.append(
            f'<rect class="{colour.get(s, "none")}" x="{x:.2f}" y="0" width="{w:.2f}" '
            f'height="6"><title>{n} {escape(words.get(s, s))}</title></rect>'
        )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))
