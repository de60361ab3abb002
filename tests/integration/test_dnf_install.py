"""Install on rpm sandbox roots with real dnf: RunPatchBaseline Install semantics.

Results are checked in the root's rpm database with ``rpm --root R --dbpath … -q``, never
only in Patchwarden's own report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rpm_sandbox import (
    APP_11,
    BAR_21,
    BAZ_11,
    EPO_09,
    FOO_11,
    FOO_12,
    KERNEL_0,
    KERNEL_1,
    LOW_11,
    NEWDEP,
    QUX_31,
    RPM_NOW,
    RPM_NOW_ISO,
    STANDARD_STATE,
    RpmNode,
    RpmNodeFactory,
    RpmRepo,
    RpmSpec,
    host_rpm_untouched_fixture,  # noqa: F401  (pytest fixtures)
    installed_state,
    make_rpm_node_fixture,  # noqa: F401
    rpm_node_fixture,  # noqa: F401
    rpm_ready_fixture,  # noqa: F401
    rpm_repo_fixture,  # noqa: F401
)
from sandbox import Cli, JsonReport, baseline_document, write_baseline

from patchwarden.pipeline import install as pipeline

pytestmark = pytest.mark.integration

DEFAULT_APPROVED = (FOO_11, BAR_21, KERNEL_1, APP_11)
"""What the AL2023 default baseline approves on a standard node at RPM_NOW (minimal fix
of foo: 1.1, not 1.2)."""


def nevra(spec: RpmSpec) -> str:
    return f"{spec.name}-{spec.evr}.noarch"


def upgraded(*specs: RpmSpec, extra: tuple[RpmSpec, ...] = ()) -> dict[str, list[str]]:
    """The rpm database of a standard node after ``specs`` replaced their old versions
    (kernels are install-only: the old one stays)."""
    names = {s.name for s in specs if s.name != "kernel"}
    kept = [s for s in STANDARD_STATE if s.name not in names]
    return installed_state([*kept, *specs, *extra])


def install_json(pw: Cli, node: RpmNode, *args: str | Path, now: str = RPM_NOW_ISO) -> JsonReport:
    result = pw("install", "--root", node.root, "--format", "json", *args, now=now)
    assert result.returncode == 0, str(result)
    return result.json()


def scan_json(pw: Cli, node: RpmNode, *args: str | Path) -> JsonReport:
    result = pw("scan", "--root", node.root, "--format", "json", *args, now=RPM_NOW_ISO)
    assert result.returncode == 0, str(result)
    return result.json()


def states(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


def baseline(tmp_path: Path, name: str, **kwargs: object) -> Path:
    document = baseline_document(name, operating_system="AMAZON_LINUX_2023", **kwargs)  # type: ignore[arg-type]
    return write_baseline(tmp_path / f"{name}.yaml", document)


def test_install_no_reboot_installs_exactly_the_approved_nevras(rpm_node: RpmNode, pw: Cli) -> None:
    report = install_json(pw, rpm_node, "--reboot-option", "NoReboot")

    assert rpm_node.rpm_versions() == upgraded(*DEFAULT_APPROVED, extra=(NEWDEP,))
    assert rpm_node.rpm_query(*(nevra(s) for s in DEFAULT_APPROVED)).returncode == 0
    assert rpm_node.rpm_query(nevra(FOO_12)).returncode != 0  # the minimal fix only
    assert rpm_node.rpm_query(nevra(KERNEL_0)).returncode == 0  # install-only: kept
    assert report["operation"] == "Install" and report["rebooted"] is False
    got = states(report)
    for spec in DEFAULT_APPROVED:
        assert got[spec.name] == "INSTALLED_PENDING_REBOOT", spec.name
    assert got["newdep"] == "INSTALLED_OTHER"  # pulled in as a dependency, no notice
    assert got["baz"] == "INSTALLED_OTHER"
    assert report["compliance"] == "NON_COMPLIANT"

    # NoReboot: a later scan still reports the reboot as pending
    after = scan_json(pw, rpm_node)
    pending = {n for n, s in states(after).items() if s == "INSTALLED_PENDING_REBOOT"}
    assert pending == {s.name for s in DEFAULT_APPROVED}
    assert after["compliance"] == "NON_COMPLIANT"
    foo = next(p for p in after["patches"] if p["name"] == "foo")
    assert foo["installed_version"] == "1.1-1.amzn2023" and foo["available_version"] is None

    # a later RebootIfNeeded install has nothing to install but reboots for the pending ones
    report = install_json(pw, rpm_node)
    assert report["rebooted"] is True
    assert report["compliance"] == "COMPLIANT"
    assert {s for n, s in states(report).items() if n in pending} == {"INSTALLED"}
    assert rpm_node.rpm_versions() == upgraded(*DEFAULT_APPROVED, extra=(NEWDEP,))


def test_scan_after_the_simulated_reboot_is_compliant(rpm_node: RpmNode, pw: Cli) -> None:
    install_json(pw, rpm_node, "--reboot-option", "RebootIfNeeded")
    assert scan_json(pw, rpm_node)["compliance"] == "COMPLIANT"


def test_enable_non_security_installs_the_highest_versions(
    rpm_node: RpmNode, pw: Cli, tmp_path: Path
) -> None:
    everything = baseline(tmp_path, "everything", enable_non_security=True)
    report = install_json(pw, rpm_node, "--baseline", everything)
    expected = (FOO_12, BAR_21, BAZ_11, QUX_31, LOW_11, EPO_09, KERNEL_1, APP_11)
    assert rpm_node.rpm_versions() == upgraded(*expected, extra=(NEWDEP,))
    assert report["compliance"] == "COMPLIANT" and report["rebooted"] is True


def test_minimal_fix_when_enable_non_security_is_off(
    rpm_node: RpmNode, pw: Cli, tmp_path: Path
) -> None:
    strict = baseline(tmp_path, "notices-only", enable_non_security=False)
    install_json(pw, rpm_node, "--baseline", strict, "--reboot-option", "NoReboot")
    versions = rpm_node.rpm_versions()
    assert versions["foo"] == ["1.1-1.amzn2023"]  # 1.2 exists but fixes no notice
    assert versions["baz"] == ["1.0-1"]  # no notice: not approved
    assert versions["epo"] == ["1:0.9-1"]  # epoch bump through an enhancement notice


def test_block_never_installs_a_rejected_dependency(
    rpm_node: RpmNode, pw: Cli, tmp_path: Path
) -> None:
    block = baseline(tmp_path, "block-newdep", rejected=["newdep"], rejected_action="BLOCK")
    result = pw("install", "--root", rpm_node.root, "--baseline", block, "--format", "json")
    report = result.json()
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["app"]["state"] == "FAILED"
    assert "needs rejected package newdep=1.0-1 (BLOCK)" in patches["app"]["detail"]
    assert "newdep" not in rpm_node.rpm_versions()
    assert rpm_node.rpm_versions()["app"] == ["1.0-1"]
    assert rpm_node.rpm_versions()["baz"] == ["1.1-1"]  # the others went in


def test_dry_run_changes_nothing(rpm_node: RpmNode, pw: Cli) -> None:
    before = rpm_node.rpm_versions()
    result = pw("install", "--root", rpm_node.root, "--dry-run", now=RPM_NOW_ISO)
    assert result.returncode == 0, str(result)
    for line in (
        "would install foo:noarch 1.1-1.amzn2023 (sandbox)",
        "would install kernel:noarch 6.1.1-1.amzn2023 (sandbox)",
        "upgrade app.noarch 1.0-1 -> 1.1-1",
        "install newdep.noarch - -> 1.0-1",
        "install kernel.noarch 6.1.0-1.amzn2023 -> 6.1.1-1.amzn2023",
    ):
        assert line in result.stdout, result.stdout
    assert rpm_node.rpm_versions() == before


def test_plan_lists_every_package_the_transaction_touches(rpm_node: RpmNode) -> None:
    pm = rpm_node.pm()
    inventory = pm.collect()
    app = next(u for u in inventory.updates if u.name == "app")
    plan = pm.plan([app])
    assert set(plan.touched) == {("app", "noarch", "1.1-1"), ("newdep", "noarch", "1.0-1")}
    decision = pipeline.dry_run(pm, None, RPM_NOW)
    assert sorted(p.name for p in decision.install) == ["app", "bar", "foo", "kernel"]


def test_a_patch_that_cannot_be_installed_fails_alone(
    rpm_repo: RpmRepo, make_rpm_node: RpmNodeFactory, pw: Cli, tmp_path: Path
) -> None:
    repo = rpm_repo.clone(tmp_path / "repo")
    node = make_rpm_node(repo=repo)
    (repo.path / FOO_11.filename).unlink()  # still in the metadata: the download fails
    result = pw("install", "--root", node.root, "--format", "json", now=RPM_NOW_ISO)
    assert result.returncode == 1, str(result)  # a patch FAILED
    patches = {p["name"]: p for p in result.json()["patches"]}
    assert patches["foo"]["state"] == "FAILED"
    assert "dnf install" in patches["foo"]["detail"]
    versions = node.rpm_versions()
    assert versions["foo"] == ["1.0-1.amzn2023"]
    assert versions["bar"] == ["2.1-1"] and versions["app"] == ["1.1-1"]
