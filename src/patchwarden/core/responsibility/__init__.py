"""The shared-responsibility view: who patches what, per resource kind, and is it done.

:mod:`.kinds` is the matrix as data (and the attribute contract of imported resources),
:mod:`.merge` what an import keeps of the previous one, :mod:`.report` the report."""

from patchwarden.core.responsibility.kinds import (
    BY_NAME,
    BY_TYPE,
    KINDS,
    Duty,
    Layer,
    Owner,
    ResourceKind,
)
from patchwarden.core.responsibility.merge import merge
from patchwarden.core.responsibility.report import (
    NOT_CHECKED,
    Check,
    KindRow,
    LayerState,
    Report,
    ResourceRow,
    build,
    worst,
)

__all__ = [
    "BY_NAME",
    "BY_TYPE",
    "KINDS",
    "NOT_CHECKED",
    "Check",
    "Duty",
    "KindRow",
    "Layer",
    "LayerState",
    "Owner",
    "Report",
    "ResourceKind",
    "ResourceRow",
    "build",
    "merge",
    "worst",
]
