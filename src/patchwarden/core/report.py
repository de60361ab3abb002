"""The result of a scan or install on one node: what the renderers and the fleet consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from patchwarden.core.image import ImageFacts
from patchwarden.core.model import ComplianceSummary, Inventory, Operation, OsInfo, PatchItem
from patchwarden.core.vuln import Finding

REPORT_SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class NodeFacts:
    """Who was scanned."""

    hostname: str
    root: str
    os: OsInfo


@dataclass(frozen=True)
class Report:
    """A compliance report: one node, one baseline, one operation."""

    node: NodeFacts
    baseline: str
    operation: Operation
    generated_at: datetime
    items: tuple[PatchItem, ...]
    summary: ComplianceSummary
    reboot_required: bool = False
    rebooted: bool = False
    warnings: tuple[str, ...] = field(default=())
    snapshot_id: str = ""
    vulnerabilities: tuple[Finding, ...] | None = None
    """Findings when the scan assessed vulnerabilities (``--vulns``), else ``None``."""
    inventory: Inventory | None = field(default=None, compare=False, repr=False)
    """The inventory the report judged (after an Install: the one collected afterwards), so
    a shell can upload it without collecting again; ``None`` in a report decoded from JSON.
    Only an image report renders it (its packages are the CycloneDX components)."""
    image: ImageFacts | None = None
    """Set when the report is about a container image (``patchwarden image scan``): the
    resource is the image (``node.hostname`` is its reference), and there are no patch
    items — no baseline judges an image."""
