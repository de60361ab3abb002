"""The responsibility report over the governance ports: every active node, the images the
shell passes and every imported resource, judged with the operator's rules (or the rule
types' defaults where the operator has none)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from patchwarden.core.responsibility import Report, build
from patchwarden.core.rules import ResourceSnapshot
from patchwarden.pipeline.governance import catalog
from patchwarden.pipeline.governance.context import Governance
from patchwarden.rule_plugins import active


def report(gov: Governance, images: Sequence[ResourceSnapshot], at: datetime) -> Report:
    """Who patches what, and is it done."""
    nodes = [snap for snap in map(gov.nodes.snapshot, gov.nodes.active()) if snap is not None]
    return build([*nodes, *images, *gov.resources.all()], catalog.rules(gov.catalog), at, active())
