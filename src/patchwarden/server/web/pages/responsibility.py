"""Responsibility: who patches what, and is it done (``/responsibility``).

The page shows what ``GET /api/v1/responsibility`` answers, read the same way
(:func:`patchwarden.server.responsibility.report` shaped by
:func:`patchwarden.render.responsibility.as_json`): the matrix of resource kinds and the
owner, duty and state of each layer, the resources that need attention (NON_COMPLIANT or
INSUFFICIENT_DATA; ``?all=1``: every resource) filtered by kind (``?kind=``), and the import
sources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from patchwarden.core.responsibility.kinds import NODE
from patchwarden.core.rules.resources import IMAGE
from patchwarden.render.responsibility import ATTENTION, SHORT, as_json
from patchwarden.server import responsibility
from patchwarden.server.db import Now, ReadDB, Settings
from patchwarden.server.web.pages.images import image_href
from patchwarden.server.web.render import page
from patchwarden.server.web.session import current

router = APIRouter(include_in_schema=False)
Row = dict[str, Any]

OWNER_CLASSES = {"customer": "info", "shared": "med", "provider": "none"}
"""Owner → badge class (the owner is always written in the badge)."""
STATE_CLASSES = {
    "NON_COMPLIANT": "bad",
    "INSUFFICIENT_DATA": "med",
    "COMPLIANT": "ok",
    "NOT_APPLICABLE": "none",
    "NOT_CHECKED": "none",
}
"""State → badge class (the state is always written in the badge)."""
YES = ("1", "true", "yes", "on")
NO = ("", "0", "false", "no", "off")


class Refused(ValueError):
    """A query value the page does not know (400)."""


def layer_summary(layer: Mapping[str, Any], resources: int) -> tuple[str, str]:
    """What a matrix cell says of a layer's resources, and its state: ``FAIL 1/2`` (how many
    fail of how many), ``no data 1/2``, ``ok``, ``n/a``; ``—`` when nothing checks it."""
    states: Mapping[str, int] = layer["states"]
    if not layer["checks"]:
        return "—", "NOT_CHECKED"
    if not resources:
        return "no resources", "NOT_CHECKED"
    for state in ATTENTION:
        if states.get(state):
            return f"{SHORT[state]} {states[state]}/{resources}", state
    worst = next((s for s in SHORT if states.get(s)), "NOT_CHECKED")
    return ("—" if worst == "NOT_CHECKED" else SHORT[worst]), worst


def resource_href(resource: Mapping[str, Any]) -> str:
    """The console page of a resource: a node's, a golden image's; empty for none."""
    if resource["resource_type"] == NODE:
        return f"/nodes/{resource['resource_id']}"
    rid: str = resource["resource_id"]
    if resource["resource_type"] == IMAGE and rid.startswith("image:"):
        name, _, version = rid.removeprefix("image:").rpartition(":")
        if name and version:
            return image_href((name, version))
    return ""


def attention_rows(resources: list[Row], everything: bool) -> list[Row]:
    """One row per verdict to look at (``everything``: per verdict of every resource, and
    one row for a resource nothing checks), in the report's order."""
    out = []
    for res in resources:
        if not everything and res["state"] not in ATTENTION:
            continue
        rows = [
            {"resource": res, "layer": layer, "check": check}
            for layer in res["layers"]
            for check in layer["checks"]
            if everything or check["compliance"] in ATTENTION
        ]
        if not rows and everything:
            rows = [{"resource": res, "layer": None, "check": None}]
        out += rows
    return out


def _choice(kind: str, kinds: list[str]) -> str:
    wanted = kind.strip().lower()
    if wanted and wanted not in kinds:
        raise Refused(f"kind: must be one of {', '.join(kinds)}")
    return wanted


def _flag(value: str) -> bool:
    if value.strip().lower() in YES:
        return True
    if value.strip().lower() in NO:
        return False
    raise Refused("all: must be 1 or 0")


def view(data: Mapping[str, Any], kind: str, all: str) -> Row:
    """What the page shows of the API's answer ``data`` for the query ``kind`` and ``all``
    (:class:`Refused` for a value it does not know)."""
    kinds = [k["kind"] for k in data["kinds"]]
    wanted, everything = _choice(kind, kinds), _flag(all)
    matrix = [
        {
            **k,
            "cells": [
                {**layer, "summary": layer_summary(layer, k["resources"])} for layer in k["layers"]
            ],
        }
        for k in data["kinds"]
    ]
    listed = [r for r in data["resources"] if not wanted or r["kind"] == wanted]
    needing = [r for r in listed if r["state"] in ATTENTION]
    return {
        "matrix": matrix,
        "kind": wanted,
        "everything": everything,
        "listed": len(listed),
        "attention": len(needing),
        "rows": attention_rows(listed, everything),
    }


@router.get("/responsibility", response_class=HTMLResponse)
def responsibility_page(
    request: Request, session: ReadDB, settings: Settings, at: Now, kind: str = "", all: str = ""
) -> HTMLResponse:
    """Per resource kind who owns each layer and its state; the resources to look at."""
    who = current(request)
    data = as_json(responsibility.report(session, settings, at), responsibility.sources(session))
    context: Row = {
        "data": data,
        "titles": {k["kind"]: k["title"] for k in data["kinds"]},
        "layers": [layer["layer"] for layer in data["kinds"][0]["layers"]] if data["kinds"] else [],
        "labels": {
            (k["kind"], layer["layer"]): layer["label"]
            for k in data["kinds"]
            for layer in k["layers"]
        },
        "owner_classes": OWNER_CLASSES,
        "state_classes": STATE_CLASSES,
        "short": SHORT,
        "href": resource_href,
        "error": "",
    }
    try:
        context.update(view(data, kind[:64], all[:8]))
    except Refused as exc:
        context.update(view(data, "", ""), error=str(exc), rows=[], kind=kind[:64])
        return page(request, "responsibility.html", who, context, status=400)
    return page(request, "responsibility.html", who, context)
