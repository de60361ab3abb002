"""Which baseline a node gets (reference §2): a ``BaselineOverride`` document for its OS,
else its patch group's registered baseline, else the operator's default for the OS, else
the predefined AWS default."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from patchwarden.core.baseline import PatchBaseline, default_baseline
from patchwarden.documents import BaselineDocument, from_aws_json, parse_documents, to_document
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.fleet.errors import Invalid, NotFound
from patchwarden.pipeline.fleet.ports import BaselineSource

Resolved = tuple[dict[str, Any] | None, str]
"""(baseline document or None, where it came from)."""


def parse_baseline(raw: Mapping[str, Any], where: str = "document") -> BaselineDocument:
    """A PatchBaseline document (envelope) or raw ``aws ssm get-patch-baseline`` JSON;
    :class:`InputError` when it is neither."""
    text = json.dumps(raw)
    if "apiVersion" not in raw and "OperatingSystem" in raw:
        return BaselineDocument(from_aws_json(text, source=where), {}, where)
    (doc,) = parse_documents(text, where + ".json")
    if not isinstance(doc, BaselineDocument):
        raise InputError(f"{where}: expected kind PatchBaseline, got {doc.kind}")
    return doc


def override_documents(raw: Sequence[Any], source: BaselineSource) -> list[dict[str, Any]]:
    """BaselineOverride: names of stored baselines, documents or AWS JSON → documents (at
    most one per OS)."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"Parameters.BaselineOverride[{index}]"
        if isinstance(item, str):
            stored = source.named_document(item)
            if stored is None:
                raise NotFound(f"baseline {item!r}")
            document = stored
        elif isinstance(item, dict):
            try:
                doc = parse_baseline(item, where)
            except PatchwardenError as exc:
                raise Invalid(str(exc)) from None
            document = to_document(doc.baseline)
        else:
            raise Invalid(f"{where}: expected a baseline name or document")
        os_name = document["spec"]["OperatingSystem"]
        if os_name in seen:
            raise Invalid(f"{where}: a second baseline for {os_name} (one per OS)")
        seen.add(os_name)
        found.append(document)
    return found


def predefined(operating_system: str) -> dict[str, Any] | None:
    """The predefined default's document; None for an OS without one (the agent then falls
    back to the default of what it detects)."""
    try:
        baseline: PatchBaseline = default_baseline(operating_system)
    except PatchwardenError:
        return None
    return to_document(baseline)


def resolve_baseline(
    source: BaselineSource,
    operating_system: str,
    patch_group: str | None,
    override: Sequence[Mapping[str, Any]] | None,
) -> Resolved:
    """The baseline document for a node of ``operating_system`` in ``patch_group`` under a
    command's ``override`` documents (None: the command has none), and where it came from.
    An override without the node's OS falls to the default, not to the patch group."""
    if override is not None:
        for document in override:
            if document["spec"]["OperatingSystem"] == operating_system:
                return dict(document), "BaselineOverride"
    elif patch_group:
        doc = source.group_document(patch_group, operating_system)
        if doc is not None:
            return doc, f"PatchGroup:{patch_group}"
    default = source.default_document(operating_system)
    if default is not None:
        return default, "DefaultBaseline"
    return predefined(operating_system), "PredefinedDefault"
