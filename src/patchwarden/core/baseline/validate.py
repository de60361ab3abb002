"""Validation of a patch baseline against the AWS constraints (reference §1.1, §1.3, §1.5).

Each problem raises :class:`BaselineFieldError` naming the AWS field path, so that the
document layer can prefix it (``spec.``) and the API can point at the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from patchwarden.core.baseline.oses import (
    ALL_FILTER_KEYS,
    APPROVAL_FILTER_KEYS,
    SUPPORTED_OPERATING_SYSTEMS,
    UNSUPPORTED_OPERATING_SYSTEMS,
    family_of,
)
from patchwarden.core.baseline.patterns import is_update_id
from patchwarden.errors import InputError

if TYPE_CHECKING:
    from patchwarden.core.baseline.model import PatchBaseline, PatchFilter, PatchRule, PatchSource

_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
_SOURCE_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,50}$")


class BaselineFieldError(InputError):
    """A baseline field breaks an AWS constraint; ``path`` is the AWS field path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _length(path: str, value: object, low: int, high: int, what: str = "characters") -> None:
    if not isinstance(value, str):
        raise BaselineFieldError(path, f"must be a string, got {type(value).__name__}")
    if not low <= len(value) <= high:
        raise BaselineFieldError(path, f"must be {low}-{high} {what}, got {len(value)}")


def _count(path: str, items: Sequence[object], low: int, high: int, what: str) -> None:
    if not low <= len(items) <= high:
        bounds = f"at most {high}" if low == 0 else f"{low}-{high}"
        raise BaselineFieldError(path, f"must have {bounds} {what}, got {len(items)}")


def validate_baseline(baseline: PatchBaseline) -> None:
    """Raise :class:`BaselineFieldError` on the first field AWS would refuse."""
    if not isinstance(baseline.name, str) or not _NAME.match(baseline.name):
        raise BaselineFieldError(
            "Name", f"must be 3-128 letters, digits, '_', '-' or '.', got {baseline.name!r}"
        )
    if baseline.description is not None:
        _length("Description", baseline.description, 1, 1024)
    family = _family("OperatingSystem", baseline.operating_system)
    keys = APPROVAL_FILTER_KEYS[family]
    _filters("GlobalFilters.PatchFilters", baseline.global_filters, keys, baseline)
    _count("ApprovalRules.PatchRules", baseline.approval_rules, 0, 10, "rules")
    for i, rule in enumerate(baseline.approval_rules):
        _rule(f"ApprovalRules.PatchRules[{i}]", rule, keys, baseline)
    for list_name, entries in (
        ("ApprovedPatches", baseline.approved_patches),
        ("RejectedPatches", baseline.rejected_patches),
    ):
        _count(list_name, entries, 0, 50, "entries")
        for j, entry in enumerate(entries):
            _length(f"{list_name}[{j}]", entry, 1, 100)
            if list_name == "RejectedPatches" and family == "rpm" and is_update_id(entry):
                raise BaselineFieldError(
                    f"{list_name}[{j}]",
                    f"{entry!r} looks like a CVE, advisory or Bugzilla id; RejectedPatches "
                    "accepts package names only (ids are accepted on ApprovedPatches)",
                )
    _count("Sources", baseline.sources, 0, 20, "sources")
    for k, source in enumerate(baseline.sources):
        _source(f"Sources[{k}]", source)
    if baseline.security_updates != "AS_APPROVED" and family != "apt":
        raise BaselineFieldError(
            "Patchwarden.SecurityUpdates",
            f"{baseline.security_updates} applies to Debian/Ubuntu baselines only "
            f"(rpm updates name their fixes in update notices), not {baseline.operating_system}",
        )


def _family(path: str, operating_system: str) -> str:
    if operating_system in UNSUPPORTED_OPERATING_SYSTEMS:
        raise BaselineFieldError(
            path, f"{operating_system} is not supported: Patchwarden manages Linux nodes"
        )
    if operating_system not in SUPPORTED_OPERATING_SYSTEMS:
        known = ", ".join(sorted(SUPPORTED_OPERATING_SYSTEMS))
        raise BaselineFieldError(path, f"must be one of {known}, got {operating_system!r}")
    return family_of(operating_system)


def _filters(
    path: str, filters: Sequence[PatchFilter], keys: tuple[str, ...], baseline: PatchBaseline
) -> None:
    _count(path, filters, 0, 4, "filters")
    seen: set[str] = set()
    for i, patch_filter in enumerate(filters):
        here = f"{path}[{i}]"
        key = patch_filter.key
        if key not in keys:
            kind = "is not a filter key" if key not in ALL_FILTER_KEYS else "cannot approve"
            raise BaselineFieldError(
                f"{here}.Key",
                f"{key!r} {kind} for {baseline.operating_system} baselines (use {', '.join(keys)})",
            )
        if key in seen:
            raise BaselineFieldError(f"{here}.Key", f"{key} is given twice in the same group")
        seen.add(key)
        _count(f"{here}.Values", patch_filter.values, 1, 20, "values")
        for j, value in enumerate(patch_filter.values):
            _length(f"{here}.Values[{j}]", value, 1, 64)


def _rule(path: str, rule: PatchRule, keys: tuple[str, ...], baseline: PatchBaseline) -> None:
    _filters(f"{path}.PatchFilterGroup.PatchFilters", rule.filters, keys, baseline)
    days, until = rule.approve_after_days, rule.approve_until_date
    if (days is None) == (until is None):
        raise BaselineFieldError(
            path, "exactly one of ApproveAfterDays and ApproveUntilDate is required"
        )
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        raise BaselineFieldError(
            f"{path}.ApproveAfterDays", f"must be an integer, got {type(days).__name__}"
        )
    if days is not None and not 0 <= days <= 360:
        raise BaselineFieldError(
            f"{path}.ApproveAfterDays", f"must be between 0 and 360, got {days}"
        )
    if until is not None and not isinstance(until, date):
        raise BaselineFieldError(
            f"{path}.ApproveUntilDate", f"must be a date (YYYY-MM-DD), got {until!r}"
        )


def _source(path: str, source: PatchSource) -> None:
    if not isinstance(source.name, str) or not _SOURCE_NAME.match(source.name):
        raise BaselineFieldError(
            f"{path}.Name", f"must be 3-50 letters, digits, '_', '-' or '.', got {source.name!r}"
        )
    _count(f"{path}.Products", source.products, 1, 20, "products")
    for i, product in enumerate(source.products):
        _length(f"{path}.Products[{i}]", product, 1, 128)
    _length(f"{path}.Configuration", source.configuration, 1, 1024)
