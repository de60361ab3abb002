"""The scan and install use cases over a scripted package manager and a real state file.

Real apt is exercised in tests/integration; here the pipeline's own decisions are pinned:
release dates, BLOCK planning, per-patch outcomes, reboot semantics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.adapters.state import LocalState
from patchwarden.core.baseline import (
    PatchBaseline,
    PatchFilter,
    PatchRule,
    RejectedPatchesAction,
)
from patchwarden.core.model import (
    Compliance,
    InstalledPackage,
    Inventory,
    Operation,
    Origin,
    OsInfo,
    Package,
    PatchState,
)
from patchwarden.pipeline.install import RebootOption, dry_run, install
from patchwarden.pipeline.scan import scan
from patchwarden.ports import InstallOutcome, InstallPlan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEBIAN = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
SEC = Origin(archive="bookworm-security", label="Debian-Security")
MAIN = Origin(archive="bookworm", label="Debian")


def pkg(name: str, version: str, origin: Origin = MAIN, **kw: object) -> Package:
    security = origin is SEC
    return Package(
        name=name,
        arch="amd64",
        version=version,
        origins=(origin,),
        repository=origin.archive,
        priority="optional",
        classification="Security" if security else "",
        update_notice=security,
        **kw,  # type: ignore[arg-type]
    )


class FakeApt:
    """A package manager whose database is a dict; install moves versions, depends on map."""

    scheme = "deb"

    def __init__(self, installed: dict[str, str], updates: list[Package], root: str = "/sbx"):
        self.root = root
        self.installed = dict(installed)
        self.updates = updates
        self.depends: dict[str, list[tuple[str, str]]] = {}
        self.broken: set[str] = set()
        self.installs: list[list[str]] = []

    def collect(self) -> Inventory:
        return Inventory(
            os=DEBIAN,
            hostname="sbx",
            root=self.root,
            scheme="deb",
            installed=tuple(
                InstalledPackage(self._facts(n, v)) for n, v in sorted(self.installed.items())
            ),
            updates=tuple(u for u in self.updates if self.installed.get(u.name) != u.version),
        )

    def _facts(self, name: str, version: str) -> Package:
        """Repository facts of the installed version, as apt finds them in its lists."""
        known = [u for u in self.updates if (u.name, u.version) == (name, version)]
        return known[0] if known else pkg(name, version)

    def refresh(self) -> None:
        pass

    def plan(self, packages: Sequence[Package]) -> InstallPlan:
        touched = [(p.name, p.arch, p.version) for p in packages]
        for p in packages:
            touched += [(d, "amd64", v) for d, v in self.depends.get(p.name, [])]
        return InstallPlan(
            tuple(packages), tuple(f"upgrade {t[0]}" for t in touched), tuple(touched)
        )

    def install(self, packages: Sequence[Package]) -> list[InstallOutcome]:
        self.installs.append([p.name for p in packages])
        out = []
        for p in packages:
            if p.name in self.broken:
                out.append(InstallOutcome(p.name, p.arch, p.version, False, "dpkg: error"))
                continue
            self.installed[p.name] = p.version
            out.append(InstallOutcome(p.name, p.arch, p.version, True))
        return out


def approve_all(days: int = 0, **kw: object) -> PatchBaseline:
    rule = PatchRule(
        (PatchFilter("PRODUCT", ("*",)),), approve_after_days=days, enable_non_security=True
    )
    return PatchBaseline("all", "DEBIAN", approval_rules=(rule,), **kw)  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    return LocalState(tmp_path / "state.db")


def states(report_items: Sequence[object]) -> dict[str, str]:
    return {i.name: i.state.value for i in report_items}  # type: ignore[attr-defined]


def test_default_baseline_only_security_pocket_is_missing(state: LocalState) -> None:
    pm = FakeApt({"a": "1", "b": "1"}, [pkg("a", "2", SEC), pkg("b", "2")])
    report = scan(pm, None, NOW, state=state)
    assert report.baseline == "AWS-DebianDefaultPatchBaseline"
    assert states(report.items) == {"a": "MISSING", "b": "INSTALLED_OTHER"}
    assert report.summary.compliance is Compliance.NON_COMPLIANT


def test_approve_after_days_counts_from_first_seen(state: LocalState) -> None:
    pm = FakeApt({"a": "1"}, [pkg("a", "2")])
    first = scan(pm, approve_all(days=7), NOW, state=state)
    assert states(first.items) == {"a": "INSTALLED"}  # the update is not approved yet
    assert first.summary.compliance is Compliance.COMPLIANT
    later = scan(pm, approve_all(days=7), NOW + timedelta(days=7, minutes=1), state=state)
    assert states(later.items) == {"a": "MISSING"}
    item = later.items[0]
    assert item.release_date == NOW


def test_first_seen_is_per_root(tmp_path: Path, state: LocalState) -> None:
    scan(FakeApt({"a": "1"}, [pkg("a", "2")], root="/one"), approve_all(7), NOW, state=state)
    other = FakeApt({"a": "1"}, [pkg("a", "2")], root="/two")
    report = scan(other, approve_all(7), NOW + timedelta(days=8), state=state)
    assert states(report.items) == {"a": "INSTALLED"}


def test_install_noreboot_then_reboot_clears_pending(state: LocalState) -> None:
    pm = FakeApt({"a": "1", "b": "1"}, [pkg("a", "2", SEC), pkg("b", "2")])
    report = install(pm, None, NOW, state=state, reboot_option=RebootOption.NO_REBOOT)
    assert pm.installed == {"a": "2", "b": "1"}
    assert report.operation is Operation.INSTALL
    assert states(report.items)["a"] == "INSTALLED_PENDING_REBOOT"
    assert not report.rebooted
    again = scan(pm, None, NOW + timedelta(minutes=5), state=state)
    assert states(again.items)["a"] == "INSTALLED_PENDING_REBOOT"
    rebooted: list[bool] = []
    final = install(
        pm, None, NOW + timedelta(minutes=10), state=state, reboot=lambda: rebooted.append(True)
    )
    assert rebooted == [True], "RebootIfNeeded reboots when a pending reboot is found"
    assert final.rebooted
    after = scan(pm, None, NOW + timedelta(minutes=20), state=state)
    assert states(after.items)["a"] == "INSTALLED"
    assert after.summary.compliance is Compliance.COMPLIANT


def test_reboot_if_needed_does_not_reboot_when_nothing_happens(state: LocalState) -> None:
    pm = FakeApt({"a": "1"}, [])
    rebooted: list[bool] = []
    report = install(pm, None, NOW, state=state, reboot=lambda: rebooted.append(True))
    assert rebooted == [] and not report.rebooted
    assert pm.installs == []


def test_failed_patch_is_failed_and_others_install(state: LocalState) -> None:
    pm = FakeApt({"a": "1", "b": "1"}, [pkg("a", "2"), pkg("b", "2")])
    pm.broken = {"b"}
    report = install(pm, approve_all(), NOW, state=state, reboot_option=RebootOption.NO_REBOOT)
    got = {i.name: (i.state, i.detail) for i in report.items}
    assert got["a"][0] is PatchState.INSTALLED_PENDING_REBOOT
    assert got["b"] == (PatchState.FAILED, "dpkg: error")
    assert report.summary.compliance is Compliance.NON_COMPLIANT


def test_block_never_pulls_in_a_rejected_package(state: LocalState) -> None:
    baseline = approve_all(
        rejected_patches=("evil",), rejected_patches_action=RejectedPatchesAction.BLOCK
    )
    pm = FakeApt({"needs-evil": "1", "ok": "1"}, [pkg("needs-evil", "2"), pkg("ok", "2")])
    pm.depends = {"needs-evil": [("evil", "1")]}
    decision = dry_run(pm, baseline, NOW, state=state)
    assert [p.name for p in decision.install] == ["ok"]
    assert "evil" in decision.blocked[("needs-evil", "amd64")]
    report = install(pm, baseline, NOW, state=state, reboot_option=RebootOption.NO_REBOOT)
    assert pm.installs == [["ok"]]
    assert states(report.items)["needs-evil"] == "FAILED"
    # ALLOW_AS_DEPENDENCY lets the dependency come along
    allow = replace(baseline, rejected_patches_action=RejectedPatchesAction.ALLOW_AS_DEPENDENCY)
    decision = dry_run(pm, allow, NOW, state=state)
    assert [p.name for p in decision.install] == ["needs-evil"]


def test_dry_run_changes_nothing(state: LocalState) -> None:
    pm = FakeApt({"a": "1"}, [pkg("a", "2", SEC)])
    decision = dry_run(pm, None, NOW, state=state)
    assert [p.version for p in decision.install] == ["2"]
    assert pm.installs == [] and pm.installed == {"a": "1"}


def test_reboot_option_parse() -> None:
    assert RebootOption.parse("noreboot") is RebootOption.NO_REBOOT
    with pytest.raises(ValueError, match="RebootOption"):
        RebootOption.parse("Sometimes")
