"""The ``UpdateOS`` action as a patch baseline (pure): what it approves.

Image Builder's UpdateOS installs every available update when neither ``include`` nor
``exclude`` is given, and ``include`` minus ``exclude`` otherwise (reference §11).  Here that
is an install with a baseline that approves every update (security or not, no delay) — or,
with ``include``, exactly the included names (globs allowed) — and rejects the excluded
names with ``BLOCK``, so they are never installed, not even as another package's dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from patchwarden.core.baseline import PatchBaseline, RejectedPatchesAction
from patchwarden.core.baseline.model import PatchFilter, PatchRule

NAME = "UpdateOS"


def update_os_baseline(
    operating_system: str, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> PatchBaseline:
    """The baseline an UpdateOS step installs with on a root of ``operating_system``."""
    rejected = tuple(dict.fromkeys(exclude))
    action = RejectedPatchesAction.BLOCK if rejected else RejectedPatchesAction.ALLOW_AS_DEPENDENCY
    if include:
        return PatchBaseline(
            name=NAME,
            operating_system=operating_system,
            approved_patches=tuple(dict.fromkeys(include)),
            approved_patches_enable_non_security=True,
            rejected_patches=rejected,
            rejected_patches_action=action,
        )
    rule = PatchRule(
        filters=(PatchFilter("PRODUCT", ("*",)),),
        approve_after_days=0,
        enable_non_security=True,
    )
    return PatchBaseline(
        name=NAME,
        operating_system=operating_system,
        approval_rules=(rule,),
        rejected_patches=rejected,
        rejected_patches_action=action,
    )


def with_rejected(baseline: PatchBaseline, exclude: Sequence[str]) -> PatchBaseline:
    """``baseline`` with ``exclude`` added to its rejected patches (and then blocked, so an
    excluded package is never installed, not even as a dependency)."""
    if not exclude:
        return baseline
    return replace(
        baseline,
        rejected_patches=tuple(dict.fromkeys((*baseline.rejected_patches, *exclude))),
        rejected_patches_action=RejectedPatchesAction.BLOCK,
    )
