"""The responsibility report as JSON (the API's answer), as text tables and as one
self-contained HTML page (print it to PDF).  ``text`` and ``html`` read the JSON form, so
a client renders what the server sent."""

from __future__ import annotations

import html as markup
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from patchwarden.core.responsibility import KindRow, Report, ResourceRow

SHORT = {
    "COMPLIANT": "ok",
    "NON_COMPLIANT": "FAIL",
    "INSUFFICIENT_DATA": "no data",
    "NOT_APPLICABLE": "n/a",
    "NOT_CHECKED": "-",
}
"""State → what a table cell says."""
ATTENTION = ("NON_COMPLIANT", "INSUFFICIENT_DATA")


def _kind(row: KindRow) -> dict[str, Any]:
    return {
        "kind": row.kind.name,
        "title": row.kind.title,
        "resource_types": list(row.kind.resource_types),
        "resources": row.resources,
        "state": row.state,
        "states": dict(sorted(row.states.items())),
        "layers": [
            {
                "layer": layer.value,
                "label": row.kind.runtime_label if layer.value == "runtime" else layer.value,
                "owner": duty.owner.value,
                "duty": duty.what,
                "checks": list(duty.checks),
                "states": dict(sorted(row.layer_states[layer].items())),
            }
            for layer, duty in row.kind.layers.items()
        ],
    }


def _resource(row: ResourceRow) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "resource_id": row.resource_id,
        "resource_type": row.resource_type,
        "name": row.name,
        "source": row.source,
        "state": row.state,
        "layers": [
            {
                "layer": layer.layer.value,
                "owner": layer.owner.value,
                "state": layer.state,
                "checks": [
                    {"rule": c.rule, "compliance": c.compliance, "annotation": c.annotation}
                    for c in layer.checks
                ],
            }
            for layer in row.layers
        ],
    }


def as_json(report: Report, sources: Sequence[Mapping[str, object]] = ()) -> dict[str, Any]:
    """The report as the API answers it."""
    return {
        "generated_at": report.generated_at.isoformat(),
        "kinds": [_kind(row) for row in report.kinds],
        "resources": [_resource(row) for row in report.resources],
        "sources": [dict(s) for s in sources],
    }


def _layer_cell(layer: Mapping[str, Any], resources: int) -> str:
    """``owner state`` with how many resources fail (``shared FAIL 1/2``)."""
    states: Mapping[str, int] = layer["states"]
    if not resources:
        return str(layer["owner"])
    if not layer["checks"]:
        return str(layer["owner"])
    for state in ("NON_COMPLIANT", "INSUFFICIENT_DATA"):
        if states.get(state):
            return f"{layer['owner']} {SHORT[state]} {states[state]}/{resources}"
    worst = next((s for s in SHORT if states.get(s)), "NOT_CHECKED")
    return f"{layer['owner']} {SHORT[worst]}"


NAME_WIDTH = 24
"""Resource names longer than this are shortened in the middle (ARNs, long ids)."""


def _short(name: str) -> str:
    if len(name) <= NAME_WIDTH:
        return name
    half = (NAME_WIDTH - 1) // 2
    return name[:half] + "…" + name[-(NAME_WIDTH - 1 - half) :]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], width: int) -> list[str]:
    """Aligned columns; the last one wraps (under itself) to keep lines within ``width``."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(width - indent, 20)
    out = []
    for row in cells:
        head = "".join(v.ljust(w) + "  " for v, w in zip(row, widths, strict=False))
        chunks = textwrap.wrap(row[-1], room) or [""]
        out.append((head + chunks[0]).rstrip())
        out += [" " * indent + chunk for chunk in chunks[1:]]
    return out


def text(data: Mapping[str, Any], width: int = 100, everything: bool = False) -> str:
    """The matrix (one line per kind: the owner of each layer, with how many resources
    fail or lack data there), then the resources that need attention (``everything``: all
    of them) by kind, then the import sources."""
    matrix = [
        (
            kind["kind"],
            *(_layer_cell(layer, kind["resources"]) for layer in kind["layers"]),
            str(kind["resources"]),
        )
        for kind in data["kinds"]
    ]
    lines = _table(matrix, ("KIND", "OS", "RUNTIME", "APP", "RES"), width)
    shown = [r for r in data["resources"] if everything or r["state"] in ATTENTION]
    if shown:
        title = "Resources" if everything else "Needs attention"
        lines += ["", f"{title} ({len(shown)} of {len(data['resources'])} resources):"]
        rows: list[tuple[str, ...]] = []
        for kind in data["kinds"]:
            own = [r for r in shown if r["kind"] == kind["kind"]]
            if own:
                rows.append((f"{kind['kind']}:", "", "", ""))
            for res in own:
                for layer in res["layers"]:
                    for check in layer["checks"]:
                        cells = (
                            "  " + _short(res["name"] or res["resource_id"]),
                            layer["layer"],
                            SHORT.get(check["compliance"], check["compliance"]),
                            check["annotation"],
                        )
                        if (everything or check["compliance"] in ATTENTION) and cells not in rows:
                            rows.append(cells)
        lines += _table(rows, ("RESOURCE", "LAYER", "STATE", "WHY"), width)
    elif data["resources"]:
        lines += ["", f"All {len(data['resources'])} resources are compliant or not checked."]
    else:
        lines += ["", "No resources yet: register nodes, build images or run `aws import`."]
    for source in data.get("sources", ()):
        at = str(source["imported_at"])[:16].replace("T", " ")
        lines.append(f"source {source['source']}: {source['resources']} resources, imported {at}")
    return "\n".join(lines) + "\n"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}.s-NON_COMPLIANT{background:#fdd}.s-INSUFFICIENT_DATA{background:#ffe9b3}
.s-COMPLIANT{background:#dfd}small{color:#444}
@media print{body{margin:0}tr{page-break-inside:avoid}}
"""


def _cell(content: str, state: str = "") -> str:
    klass = f' class="s-{markup.escape(state)}"' if state else ""
    return f"<td{klass}>{content}</td>"


def html(data: Mapping[str, Any]) -> str:
    """One self-contained page (no script, no external file): print it to get a PDF."""
    e = markup.escape
    head = "".join(f"<th>{h}</th>" for h in ("Kind", "OS", "Runtime", "Application", "State"))
    rows = []
    for kind in data["kinds"]:
        cells = [
            _cell(f"<b>{e(kind['title'])}</b><br><small>{kind['resources']} resources</small>")
        ]
        for layer in kind["layers"]:
            worst = next(
                (s for s in ("NON_COMPLIANT", "INSUFFICIENT_DATA") if layer["states"].get(s)), ""
            )
            cells.append(
                _cell(
                    f"<b>{e(layer['owner'])}</b> ({e(layer['label'])})<br>"
                    f"<small>{e(layer['duty'])}</small><br>"
                    + e(_layer_cell(layer, kind["resources"])),
                    worst,
                )
            )
        cells.append(_cell(e(kind["state"]), kind["state"] if kind["resources"] else ""))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    detail = []
    for res in data["resources"]:
        for layer in res["layers"]:
            for check in layer["checks"]:
                detail.append(
                    "<tr>"
                    + _cell(e(res["kind"]))
                    + _cell(
                        f"{e(res['name'] or res['resource_id'])}<br>"
                        f"<small>{e(res['source'])}</small>"
                    )
                    + _cell(f"{e(layer['layer'])} ({e(layer['owner'])})")
                    + _cell(e(check["rule"]))
                    + _cell(e(check["compliance"]), check["compliance"])
                    + _cell(e(check["annotation"]))
                    + "</tr>"
                )
    detail_head = "".join(
        f"<th>{h}</th>" for h in ("Kind", "Resource", "Layer", "Rule", "State", "Why")
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Patchwarden responsibility report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Who patches what, and is it done</h1>"
        f"<p>Generated {e(data['generated_at'])}.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "<h2>Resources</h2>"
        f"<table><thead><tr>{detail_head}</tr></thead><tbody>{''.join(detail)}</tbody></table>"
        "</body></html>\n"
    )
