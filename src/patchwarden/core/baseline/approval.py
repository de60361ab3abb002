"""The approval algorithm of reference §1.4, and the choice among candidate updates.

:func:`bind` compiles a baseline for one node (product, version scheme) and one ``now``
into a :class:`Judge`, so that judging thousands of packages costs only the per-package
tests.  :func:`approve` and :func:`select_update` are the one-shot forms.

Filter values: ``*`` matches anything and, as a documented superset of AWS, a value with
``*``, ``?`` or ``[..]`` is an fnmatch pattern.  Case follows the AWS code: on apt the
baseline's values are lower-cased and compared with the product lower-cased but with the
package's Priority and Section as they are; on rpm, CLASSIFICATION and SEVERITY ignore
case while PRODUCT is compared exactly; on apk (Alpine, beyond AWS) REPOSITORY ignores case
and PRODUCT is compared exactly.

Release dates: a package without one counts as released on 1970-01-01 and so passes every
delay, as rpm does in SSM (§1.6).  Unlike SSM, the delay also applies on apt, where the
date is Patchwarden's first-seen record; an apt version with no date at all counts as
1970 too, so a delay holds a version back only once its first-seen date is recorded.
``ApproveAfterDays`` is inclusive (a version first seen at ``now`` passes
``ApproveAfterDays: 0``); times without a zone are UTC.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from patchwarden.core.baseline.model import Approval, PatchBaseline, PatchFilter
from patchwarden.core.baseline.oses import SCHEME_OF_FAMILY, family_of
from patchwarden.core.baseline.patterns import RENDERERS, is_glob
from patchwarden.core.baseline.selection import UpdateChoice, select
from patchwarden.core.model import ComplianceLevel, Package
from patchwarden.errors import InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Release date assumed for a package without one: it passes every delay (§1.6)."""

_Test = Callable[[Package], bool]
_UNSPECIFIED = ComplianceLevel.UNSPECIFIED


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def latest_release(
    approve_after_days: int | None, approve_until_date: date | None, now: datetime
) -> datetime:
    """The latest release time a rule approves: ``now - ApproveAfterDays`` (inclusive), or
    the last instant (UTC) of the ApproveUntilDate day (the whole named day counts)."""
    if approve_until_date is not None:
        next_day = datetime.combine(approve_until_date + timedelta(days=1), time(), UTC)
        return next_day - timedelta(microseconds=1)
    return _utc(now) - timedelta(days=approve_after_days or 0)


def _value_test(values: Sequence[str], *, fold: bool) -> Callable[[str], bool]:
    """OR over ``values`` (already in the case to compare); ``fold`` lower-cases the
    package's value first.  An empty package value matches only ``*``."""
    if "*" in values:
        return lambda _value: True
    exact = frozenset(v for v in values if not is_glob(v))
    globs = [fnmatch.translate(v) for v in values if is_glob(v)]
    pattern = re.compile("|".join(globs)).match if globs else None

    def test(value: str) -> bool:
        if not value:
            return False
        if fold:
            value = value.lower()
        return value in exact or (pattern is not None and pattern(value) is not None)

    return test


def _filter_test(patch_filter: PatchFilter, family: str, product: str) -> _Test | bool:
    """A per-package test, or a constant for PRODUCT (it looks at the node, not the package)."""
    key, apt = patch_filter.key, family == "apt"
    lowered = [v.lower() for v in patch_filter.values]
    if key == "PRODUCT":
        values = lowered if apt else list(patch_filter.values)
        return _value_test(values, fold=apt)(product)
    # apt: Priority/Section as the package has them against lower-cased values (the AWS
    # code); rpm: classification and severity ignore case.
    match = _value_test(lowered, fold=not apt)
    if key == "PRIORITY":
        return lambda pkg: match(pkg.priority)
    if key == "SECTION":
        return lambda pkg: match(pkg.section)
    if key == "CLASSIFICATION":
        return lambda pkg: match(pkg.classification)
    if key == "REPOSITORY":  # apk: main, community, testing (ignoring case)
        return lambda pkg: match(pkg.repository)
    return lambda pkg: match(pkg.severity)  # SEVERITY; keys were validated per OS


def _group(filters: Iterable[PatchFilter], family: str, product: str) -> tuple[_Test, ...] | None:
    """The AND of a filter group; ``None`` when a constant filter (PRODUCT) fails."""
    tests: list[_Test] = []
    for patch_filter in filters:
        test = _filter_test(patch_filter, family, product)
        if isinstance(test, bool):
            if not test:
                return None
        else:
            tests.append(test)
    return tuple(tests)


@dataclass(frozen=True)
class _Rule:
    index: int
    tests: tuple[_Test, ...]
    latest: datetime
    enable_non_security: bool
    level: ComplianceLevel


class Judge:
    """A baseline bound to one node's product and scheme and to one ``now``."""

    __slots__ = (
        "_global",
        "_render",
        "_rules",
        "_security_exempt",
        "_with_ids",
        "baseline",
        "scheme",
    )

    def __init__(self, baseline: PatchBaseline, product: str, now: datetime, scheme: str) -> None:
        family = family_of(baseline.operating_system)
        if SCHEME_OF_FAMILY[family] != scheme:
            raise InputError(
                f"baseline {baseline.name!r} is for {baseline.operating_system} "
                f"({SCHEME_OF_FAMILY[family]} packages) and cannot judge {scheme!r} packages"
            )
        self.baseline = baseline
        self.scheme = scheme
        self._render = RENDERERS[scheme]
        self._with_ids = family == "rpm"
        self._security_exempt = baseline.operating_system == "SUSE"
        self._global = _group(baseline.global_filters, family, product)
        rules = []
        for i, rule in enumerate(baseline.approval_rules):
            tests = _group(rule.filters, family, product)
            if tests is not None:
                latest = latest_release(rule.approve_after_days, rule.approve_until_date, now)
                rules.append(
                    _Rule(i, tests, latest, rule.enable_non_security, rule.compliance_level)
                )
        self._rules = tuple(rules)

    def approve(self, pkg: Package) -> Approval:
        """Reference §1.4: rejected list, approved list, then GlobalFilters AND any rule."""
        baseline = self.baseline
        renderings: tuple[str, ...] = ()
        if baseline.rejected_matcher or baseline.approved_matcher:
            renderings = self._render(pkg.name, pkg.arch, pkg.version)
        if baseline.rejected_matcher and baseline.rejected_matcher.matches(renderings):
            return Approval(False, True, _UNSPECIFIED, "on RejectedPatches")
        security = pkg.update_notice or self._security_exempt
        levels: list[ComplianceLevel] = []
        sources: list[str] = []
        refusal = "matches no approval rule"
        if baseline.approved_matcher and (
            baseline.approved_matcher.matches(renderings)
            or (self._with_ids and baseline.approved_matcher.matches_ids(pkg))
        ):
            if security or baseline.approved_patches_enable_non_security:
                levels.append(baseline.approved_patches_compliance_level)
                sources.append("ApprovedPatches")
            else:
                refusal = "on ApprovedPatches but not a security update"
        if self._global is None or not all(test(pkg) for test in self._global):
            if not sources:
                refusal = "excluded by GlobalFilters"
        else:
            released = EPOCH if pkg.release_date is None else _utc(pkg.release_date)
            for rule in self._rules:
                if not all(test(pkg) for test in rule.tests):
                    continue
                where = f"ApprovalRules.PatchRules[{rule.index}]"
                if released > rule.latest:
                    refusal = f"released {released:%Y-%m-%d}, too recent for {where}"
                elif not (rule.enable_non_security or security):
                    refusal = f"not a security update ({where} has EnableNonSecurity false)"
                else:
                    levels.append(rule.level)
                    sources.append(where)
        if not sources:
            return Approval(False, False, _UNSPECIFIED, refusal)
        level = max(levels, key=lambda lvl: lvl.rank)
        return Approval(True, False, level, ", ".join(sources))

    def select_update(
        self, candidates: Iterable[Package], installed_version: str | None = None
    ) -> UpdateChoice | None:
        """The update to report among ``candidates`` (:func:`.selection.select`): the
        highest approved one by the package manager's preference, with the CVE union of
        every candidate up to it (§1.4); ``None`` when no candidate is approved."""
        return select(
            self.approve,
            candidates,
            scheme=self.scheme,
            installed_version=installed_version,
            security_updates=self.baseline.security_updates,
        )


def bind(baseline: PatchBaseline, *, product: str, now: datetime, scheme: str) -> Judge:
    """Compile ``baseline`` for a node whose SSM product is ``product`` and whose packages
    use version scheme ``scheme`` (``deb``/``rpm``/``apk``), at time ``now`` (naive = UTC)."""
    return Judge(baseline, product, now, scheme)


def approve(
    baseline: PatchBaseline, pkg: Package, product: str, now: datetime, scheme: str
) -> Approval:
    """Whether ``baseline`` approves ``pkg`` on a node with ``product`` at ``now`` (§1.4)."""
    return Judge(baseline, product, now, scheme).approve(pkg)


def select_update(
    baseline: PatchBaseline,
    candidates: Sequence[Package],
    *,
    product: str,
    now: datetime,
    scheme: str,
    installed_version: str | None = None,
) -> UpdateChoice | None:
    """The candidate version to report for one (name, arch) (§1.4): the highest version
    the baseline approves (apt: by pin priority first), with the CVEs of every
    intermediate update it skips.

    Candidates not newer than ``installed_version`` (when given) are ignored.
    """
    judge = Judge(baseline, product, now, scheme)
    return judge.select_update(candidates, installed_version)
