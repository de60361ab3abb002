"""Patch baselines: the SSM model and its approval algorithm (reference §1).

- :mod:`.model` — :class:`PatchBaseline`, :class:`PatchRule`, :class:`PatchFilter`,
  :class:`Approval`; validated when built.
- :mod:`.approval` — :func:`approve` (§1.4), :func:`select_update` and :func:`bind`.
- :mod:`.selection` — which available version to report and install (§1.4, apt pins).
- :mod:`.patterns` — ApprovedPatches/RejectedPatches renderings and matching (§1.7).
- :mod:`.defaults` — :func:`default_baseline` per OS (§1.10).
"""

from __future__ import annotations

from patchwarden.core.baseline.approval import (
    Judge,
    approve,
    bind,
    latest_release,
    select_update,
)
from patchwarden.core.baseline.defaults import DEFAULT_BASELINE_NAMES, default_baseline
from patchwarden.core.baseline.model import (
    Approval,
    PatchBaseline,
    PatchFilter,
    PatchFilterGroup,
    PatchRule,
    PatchSource,
    RejectedPatchesAction,
    SecurityUpdates,
)
from patchwarden.core.baseline.selection import UpdateChoice, preferred
from patchwarden.core.baseline.validate import BaselineFieldError

__all__ = [
    "DEFAULT_BASELINE_NAMES",
    "Approval",
    "BaselineFieldError",
    "Judge",
    "PatchBaseline",
    "PatchFilter",
    "PatchFilterGroup",
    "PatchRule",
    "PatchSource",
    "RejectedPatchesAction",
    "SecurityUpdates",
    "UpdateChoice",
    "approve",
    "bind",
    "default_baseline",
    "latest_release",
    "preferred",
    "select_update",
]
