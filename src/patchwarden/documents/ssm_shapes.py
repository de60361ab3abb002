"""A ``PatchBaseline`` document as SSM's baseline fields: pure functions of the stored
document (a JSON mapping), shared by the SSM-compatible API and the AWS connector's export.

Patchwarden-only settings (``spec.Patchwarden``) have no SSM field: :func:`baseline_fields`
leaves them out and :func:`patchwarden_only` names those a document sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASELINE_FIELDS = (
    "Name",
    "OperatingSystem",
    "Description",
    "GlobalFilters",
    "ApprovalRules",
    "ApprovedPatches",
    "ApprovedPatchesComplianceLevel",
    "ApprovedPatchesEnableNonSecurity",
    "RejectedPatches",
    "RejectedPatchesAction",
    "Sources",
)
"""The baseline fields of the SSM model a PatchBaseline document's ``spec`` holds."""
UPDATABLE_FIELDS = tuple(f for f in BASELINE_FIELDS if f not in ("Name", "OperatingSystem"))
"""The fields UpdatePatchBaseline takes (a baseline keeps its name and OS)."""
PATCHWARDEN_DEFAULTS: Mapping[str, object] = {"SecurityUpdates": "AS_APPROVED"}
"""``spec.Patchwarden``'s settings and their defaults (SSM's behaviour)."""
_RULE_DEFAULTS: Mapping[str, object] = {
    "ComplianceLevel": "UNSPECIFIED",
    "EnableNonSecurity": False,
}


def baseline_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The SSM fields of a PatchBaseline document (its Patchwarden-only settings apart)."""
    spec = document["spec"]
    out: dict[str, Any] = {
        "Name": document["metadata"]["name"],
        "OperatingSystem": spec["OperatingSystem"],
        "GlobalFilters": spec.get("GlobalFilters", {"PatchFilters": []}),
        "ApprovalRules": spec.get("ApprovalRules", {"PatchRules": []}),
        "ApprovedPatches": spec.get("ApprovedPatches", []),
        "ApprovedPatchesComplianceLevel": spec.get("ApprovedPatchesComplianceLevel", "UNSPECIFIED"),
        "ApprovedPatchesEnableNonSecurity": spec.get("ApprovedPatchesEnableNonSecurity", False),
        "RejectedPatches": spec.get("RejectedPatches", []),
        "RejectedPatchesAction": spec.get("RejectedPatchesAction", "ALLOW_AS_DEPENDENCY"),
        "Sources": spec.get("Sources", []),
    }
    description = spec.get("Description") or document["metadata"].get("description")
    if description:
        out["Description"] = description
    return out


def patchwarden_only(document: Mapping[str, Any]) -> list[str]:
    """The Patchwarden-only settings the document sets to other than SSM's behaviour
    (``Patchwarden.SecurityUpdates=NEWEST_IN_RELEASE``…)."""
    own = document["spec"].get("Patchwarden") or {}
    return [
        f"Patchwarden.{key}={value}"
        for key, value in sorted(own.items())
        if PATCHWARDEN_DEFAULTS.get(key) != value
    ]


def _rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = {**_RULE_DEFAULTS, **{k: v for k, v in rule.items() if v is not None}}
    return out


def comparable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """SSM baseline fields with SSM's defaults filled in and bookkeeping dropped, so a
    GetPatchBaseline answer and :func:`baseline_fields` compare equal when they mean the
    same baseline."""
    out: dict[str, Any] = {}
    for name in BASELINE_FIELDS:
        value = fields.get(name)
        if name == "ApprovalRules":
            rules = (value or {}).get("PatchRules", [])
            value = {"PatchRules": [_rule(r) for r in rules]}
        elif name == "GlobalFilters":
            value = {"PatchFilters": list((value or {}).get("PatchFilters", []))}
        elif name in ("ApprovedPatches", "RejectedPatches", "Sources"):
            value = list(value or [])
        elif name == "ApprovedPatchesComplianceLevel":
            value = value or "UNSPECIFIED"
        elif name == "ApprovedPatchesEnableNonSecurity":
            value = bool(value)
        elif name == "RejectedPatchesAction":
            value = value or "ALLOW_AS_DEPENDENCY"
        elif name == "Description":
            value = value or None
        out[name] = value
    return out
