"""Renderers: Report → text.  An explicit registry, chosen by ``--format``."""

from __future__ import annotations

from collections.abc import Callable

from patchwarden.core.report import Report


def _json(report: Report) -> str:
    from patchwarden.render.json import render

    return render(report)


def _table(report: Report) -> str:
    from patchwarden.render.table import render

    return render(report)


def _sarif(report: Report) -> str:
    from patchwarden.render.sarif import render

    return render(report)


def _cyclonedx(report: Report) -> str:
    from patchwarden.render.cyclonedx import render

    return render(report)


RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": _json,
    "table": _table,
    "sarif": _sarif,
    "cyclonedx": _cyclonedx,
}
