"""Patch baselines: the SSM model and its approval algorithm (reference §1).

- :mod:`.model` — :class:`PatchBaseline`, :class:`PatchRule`, :class:`PatchFilter`,
  :class:`Approval`; validated when built.
- :mod:`.approval` — :func:`approve` (§1.4), :func:`select_update` and :func:`bind`.
- :mod:`.patterns` — ApprovedPatches/RejectedPatches renderings and matching (§1.7).
- :mod:`.defaults` — :func:`default_baseline` per OS (§1.10).
"""

from __future__ import annotations

from patchwarden.core.baseline.approval import (
    Judge,
    UpdateChoice,
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
)
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
    "UpdateChoice",
    "approve",
    "bind",
    "default_baseline",
    "latest_release",
    "select_update",
]
