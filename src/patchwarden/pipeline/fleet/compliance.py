"""The fleet's patch compliance, counted: COMPLIANT / NON_COMPLIANT / UNREPORTED nodes per
patch group, operating system, baseline or NonCompliantSeverity, and in total."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

UNREPORTED = "UNREPORTED"
"""The state of a node that never reported a RunPatchBaseline."""
Grouping = Literal["patch_group", "operating_system", "baseline", "severity"]


@dataclass(frozen=True)
class NodeCompliance:
    """One active node's compliance (``compliance`` None: it never reported)."""

    patch_group: str | None
    operating_system: str | None
    compliance: str | None
    severity: str | None
    baseline: str | None = None
    """The baseline the node was last judged against (None: it never reported)."""


def _key(node: NodeCompliance, by: Grouping) -> str:
    if by == "patch_group":
        return node.patch_group or ""
    if by == "operating_system":
        return node.operating_system or ""
    if by == "baseline":
        return node.baseline or ""
    return node.severity or ""


def _counts(c: Counter[str]) -> dict[str, int]:
    return {
        "COMPLIANT": c["COMPLIANT"],
        "NON_COMPLIANT": c["NON_COMPLIANT"],
        UNREPORTED: c[UNREPORTED],
        "nodes": sum(c.values()),
    }


def summarize(nodes: Iterable[NodeCompliance], by: Grouping) -> dict[str, Any]:
    """Counts per state, grouped ``by`` (a group without a key is ``None``), and the
    totals."""
    groups: dict[str, Counter[str]] = {}
    total: Counter[str] = Counter()
    for node in nodes:
        state = node.compliance if node.compliance is not None else UNREPORTED
        groups.setdefault(_key(node, by), Counter())[state] += 1
        total[state] += 1
    return {
        "by": by,
        "total": _counts(total),
        "groups": [{"key": k or None, **_counts(v)} for k, v in sorted(groups.items())],
    }
