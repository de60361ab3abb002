"""Install on sandbox roots with real apt-get/dpkg: RunPatchBaseline Install semantics.

Results are checked in the root's dpkg database with ``dpkg-query --admindir``, never only
in Patchwarden's own report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox import (
    APPROVE_ALL_UPDATES,
    NOW,
    SECURITY_UPDATES,
    STANDARD_STATE,
    Cli,
    JsonReport,
    NodeFactory,
    Repo,
    SandboxNode,
    baseline_document,
    deb_filename,
    load_baseline,
    write_baseline,
)

from patchwarden.adapters.state import LocalState
from patchwarden.core.model import Compliance, PatchState
from patchwarden.pipeline import install as pipeline
from patchwarden.pipeline.scan import scan

pytestmark = pytest.mark.integration

APPROVE_ALL = baseline_document("approve-all")
BLOCK_EVIL = baseline_document("block-evil", rejected=["evil"], rejected_action="BLOCK")
ALLOW_EVIL = baseline_document(
    "allow-evil", rejected=["evil"], rejected_action="ALLOW_AS_DEPENDENCY"
)
ALL_UPGRADED = {**STANDARD_STATE, **APPROVE_ALL_UPDATES, "evil": "1.0-1"}
"""dpkg after installing every approved update of a standard node (evil as a dependency)."""


def states(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


def install(pw: Cli, node: SandboxNode, *args: str | Path) -> JsonReport:
    """Run ``patchwarden install``; it exits 1 exactly when a patch ended FAILED."""
    result = pw("install", "--root", node.root, "--format", "json", *args)
    report = result.json()
    assert result.returncode == (1 if report["summary"]["FAILED"] else 0), str(result)
    return report


def scan_json(pw: Cli, node: SandboxNode, *args: str | Path) -> JsonReport:
    result = pw("scan", "--root", node.root, "--format", "json", *args)
    assert result.returncode == 0, str(result)
    return result.json()


@pytest.fixture
def approve_all(tmp_path: Path) -> Path:
    return write_baseline(tmp_path / "approve-all.yaml", APPROVE_ALL)


def test_install_no_reboot_upgrades_exactly_the_approved_packages(
    sandbox_node: SandboxNode, pw: Cli, approve_all: Path
) -> None:
    report = install(pw, sandbox_node, "--baseline", approve_all, "--reboot-option", "NoReboot")

    assert sandbox_node.dpkg_versions() == ALL_UPGRADED
    assert sandbox_node.upgradable() == {}
    assert report["operation"] == "Install"
    assert report["rebooted"] is False
    got = states(report)
    for name in APPROVE_ALL_UPDATES:
        assert got[name] == "INSTALLED_PENDING_REBOOT", name
    assert got["calm"] == "INSTALLED"  # untouched
    assert got["evil"] == "INSTALLED"  # pulled in as a dependency, approved, no reboot pending
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["libfoo1"]["installed_version"] == "1.0-1+deb12u1"
    assert report["compliance"] == "NON_COMPLIANT"

    # NoReboot: the next scan still reports the reboot as pending
    after = scan_json(pw, sandbox_node, "--baseline", approve_all)
    assert {n: s for n, s in states(after).items() if s != "INSTALLED"} == {
        name: "INSTALLED_PENDING_REBOOT" for name in APPROVE_ALL_UPDATES
    }
    assert after["compliance"] == "NON_COMPLIANT"
    result = pw(
        "scan", "--root", sandbox_node.root, "--baseline", approve_all, "--fail-on-noncompliant"
    )
    assert result.returncode == 1, str(result)

    # a later RebootIfNeeded install has nothing to install but reboots for the pending one
    report = install(pw, sandbox_node, "--baseline", approve_all)
    assert report["rebooted"] is True
    assert report["compliance"] == "COMPLIANT"
    assert scan_json(pw, sandbox_node, "--baseline", approve_all)["compliance"] == "COMPLIANT"
    assert sandbox_node.dpkg_versions() == ALL_UPGRADED


def test_install_reboot_if_needed_leaves_the_node_compliant(
    sandbox_node: SandboxNode, pw: Cli, approve_all: Path
) -> None:
    report = install(
        pw, sandbox_node, "--baseline", approve_all, "--reboot-option", "RebootIfNeeded"
    )
    assert sandbox_node.dpkg_versions() == ALL_UPGRADED
    assert report["rebooted"] is True  # simulated: a sandbox root never reboots the host
    assert report["compliance"] == "COMPLIANT"
    assert set(states(report).values()) == {"INSTALLED"}

    after = scan_json(pw, sandbox_node, "--baseline", approve_all, "--fail-on-noncompliant")
    assert after["compliance"] == "COMPLIANT"
    assert after["summary"]["INSTALLED"] == len(ALL_UPGRADED)

    # nothing left: a second install changes nothing and does not reboot
    status = sandbox_node.status_path.read_bytes()
    again = install(
        pw, sandbox_node, "--baseline", approve_all, "--reboot-option", "RebootIfNeeded"
    )
    assert again["rebooted"] is False
    assert again["compliance"] == "COMPLIANT"
    assert sandbox_node.status_path.read_bytes() == status


def test_install_with_the_default_baseline_leaves_unapproved_packages(
    sandbox_node: SandboxNode, pw: Cli
) -> None:
    report = install(pw, sandbox_node, "--reboot-option", "NoReboot")

    versions = sandbox_node.dpkg_versions()
    assert versions == {**STANDARD_STATE, **SECURITY_UPDATES, "evil": "1.0-1"}
    assert versions["bar"] == "2.0-1"  # non-security update: not approved by the default
    assert versions["baz"] == "1.0-1"
    assert versions["bpo-tool"] == "1.0-1~bpo12+1"
    got = states(report)
    for name in SECURITY_UPDATES:
        assert got[name] == "INSTALLED_PENDING_REBOOT", name
    assert got["bar"] == got["baz"] == got["bpo-tool"] == "INSTALLED_OTHER"
    assert set(sandbox_node.upgradable()) == {"bar", "baz", "bpo-tool"}


def test_dry_run_changes_nothing_and_prints_the_plan(
    sandbox_node: SandboxNode, pw: Cli, approve_all: Path
) -> None:
    status = sandbox_node.status_path.read_bytes()
    result = pw("install", "--root", sandbox_node.root, "--baseline", approve_all, "--dry-run")
    assert result.returncode == 0, str(result)

    assert sandbox_node.status_path.read_bytes() == status
    assert sandbox_node.dpkg_versions() == STANDARD_STATE
    lines = result.stdout.splitlines()
    for name, version in APPROVE_ALL_UPDATES.items():
        assert any(line.startswith(f"would install {name}:all {version} ") for line in lines), (
            result.stdout
        )
        assert f"  plan: upgrade {name} {STANDARD_STATE[name]} -> {version}" in lines, result.stdout
    assert "  plan: install evil - -> 1.0-1" in lines, result.stdout
    assert not any("calm" in line for line in lines)


def test_dry_run_with_nothing_to_install(make_node: NodeFactory, pw: Cli) -> None:
    node = make_node(libfoo1="1.0-1+deb12u1", foo_utils="1.0-1+deb12u1", needs_evil=None)
    result = pw("install", "--root", node.root, "--dry-run")
    assert result.returncode == 0, str(result)
    assert "nothing to install" in result.stdout


def test_block_rejected_dependency_fails_the_patch_that_needs_it(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path
) -> None:
    baseline = write_baseline(tmp_path / "block.yaml", BLOCK_EVIL)

    plan = pw("install", "--root", sandbox_node.root, "--baseline", baseline, "--dry-run")
    assert plan.returncode == 0, str(plan)
    assert "would fail needs-evil:all: needs rejected package evil=1.0-1 (BLOCK)" in plan.stdout
    assert not any(ln.startswith("would install needs-evil") for ln in plan.stdout.splitlines())

    report = install(pw, sandbox_node, "--baseline", baseline, "--reboot-option", "NoReboot")
    versions = sandbox_node.dpkg_versions()
    assert "evil" not in versions
    assert versions["needs-evil"] == "1.0-1"
    others = {k: v for k, v in APPROVE_ALL_UPDATES.items() if k != "needs-evil"}
    assert versions == {**STANDARD_STATE, **others}
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["needs-evil"]["state"] == "FAILED"
    assert "evil" in patches["needs-evil"]["detail"]
    assert "evil" not in patches
    for name in others:
        assert patches[name]["state"] == "INSTALLED_PENDING_REBOOT", name
    assert report["compliance"] == "NON_COMPLIANT"

    # the Scan that follows reports the blocked upgrade as MISSING (reference §1.8)
    after = scan_json(pw, sandbox_node, "--baseline", baseline)
    assert states(after)["needs-evil"] == "MISSING"


def test_allow_as_dependency_installs_the_rejected_dependency(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path
) -> None:
    baseline = write_baseline(tmp_path / "allow.yaml", ALLOW_EVIL)
    report = install(pw, sandbox_node, "--baseline", baseline, "--reboot-option", "NoReboot")

    assert sandbox_node.dpkg_versions() == ALL_UPGRADED
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["needs-evil"]["state"] == "INSTALLED_PENDING_REBOOT"
    assert patches["evil"]["state"] == "INSTALLED_OTHER"
    assert "ALLOW_AS_DEPENDENCY" in patches["evil"]["detail"]


def test_an_installed_rejected_package_under_block_is_installed_rejected(
    make_node: NodeFactory, state: LocalState
) -> None:
    node = make_node(evil="1.0-1")
    assert node.dpkg_versions()["evil"] == "1.0-1"
    report = scan(node.pm(), load_baseline(BLOCK_EVIL), NOW, state=state)
    by_name = {i.name: i for i in report.items}
    assert by_name["evil"].state is PatchState.INSTALLED_REJECTED
    assert report.summary.compliance is Compliance.NON_COMPLIANT

    report = scan(node.pm(), load_baseline(ALLOW_EVIL), NOW, state=state)
    assert {i.name: i for i in report.items}["evil"].state is PatchState.INSTALLED_OTHER


def test_a_patch_that_fails_to_install_is_failed_while_the_others_install(
    deb_repo: Repo, pw: Cli, approve_all: Path, tmp_path: Path
) -> None:
    repo = deb_repo.clone(tmp_path / "repo")
    node = NodeFactory(tmp_path / "nodes", repo)(name="broken-baz")
    # the published baz 1:0.9-1 gets corrupted after the indices were written
    deb = repo.file("bookworm", deb_filename("baz", "1:0.9-1", "all"))
    deb.write_bytes(b"!<arch>\nthis is not a debian package\n" + b"\0" * 64)

    report = install(pw, node, "--baseline", approve_all, "--reboot-option", "NoReboot")

    versions = node.dpkg_versions()
    assert versions["baz"] == "1.0-1"
    others = {k: v for k, v in APPROVE_ALL_UPDATES.items() if k != "baz"}
    assert versions == {**STANDARD_STATE, **others, "evil": "1.0-1"}
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["baz"]["state"] == "FAILED"
    # the reason is baz's own (a hash mismatch), not the combined transaction's
    assert "baz" in patches["baz"]["detail"] or "Hash" in patches["baz"]["detail"], patches["baz"]
    for name in others:
        assert "apt-get" not in patches[name]["detail"], patches[name]
    assert patches["baz"]["installed_version"] == "1.0-1"
    for name in others:
        assert patches[name]["state"] == "INSTALLED_PENDING_REBOOT", name
    assert report["compliance"] == "NON_COMPLIANT"


def test_pipeline_reboot_callback_only_with_reboot_if_needed(
    make_node: NodeFactory, state: LocalState
) -> None:
    baseline = load_baseline(APPROVE_ALL)
    calls: list[str] = []

    node = make_node()
    report = pipeline.install(
        node.pm(),
        baseline,
        NOW,
        state=state,
        reboot_option=pipeline.RebootOption.NO_REBOOT,
        reboot=lambda: calls.append("no-reboot"),
    )
    assert calls == []
    assert report.rebooted is False
    pending = {i.name for i in report.items if i.state is PatchState.INSTALLED_PENDING_REBOOT}
    assert pending == set(APPROVE_ALL_UPDATES)

    other = make_node()
    report = pipeline.install(
        other.pm(),
        baseline,
        NOW,
        state=state,
        reboot_option=pipeline.RebootOption.REBOOT_IF_NEEDED,
        reboot=lambda: calls.append("reboot"),
    )
    assert calls == ["reboot"]
    assert report.rebooted is True
    assert report.summary.compliance is Compliance.COMPLIANT
    assert other.dpkg_versions() == ALL_UPGRADED
    # the first node's pending reboot is its own: the other node's boot does not clear it
    again = scan(node.pm(), baseline, NOW, state=state)
    assert again.summary.compliance is Compliance.NON_COMPLIANT


# -- InstallOverrideList: the CLI (--override-list) and the agent run the same use case ------


def test_cli_override_list_installs_exactly_the_listed_patches(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path
) -> None:
    listed = tmp_path / "override.yaml"
    listed.write_text("patches:\n  - id: bar\n    title: bar\n  - id: bpo-tool\n")
    dry = pw("install", "--root", sandbox_node.root, "--override-list", listed, "--dry-run")
    assert dry.returncode == 0, str(dry)
    assert "would install bar:" in dry.stdout and "would install libfoo1" not in dry.stdout

    report = install(pw, sandbox_node, "--override-list", listed)  # RebootIfNeeded
    versions = sandbox_node.dpkg_versions()
    assert versions["bar"] == "2.1-1" and versions["bpo-tool"] == "1.1-1~bpo12+1"
    assert versions["libfoo1"] == "1.0-1"  # approved by the baseline, but not listed
    got = states(report)
    assert report["operation"] == "Install" and report["rebooted"] is True
    assert got["bar"] == got["bpo-tool"] == "INSTALLED_OTHER"  # not approved by the baseline
    assert got["libfoo1"] == "MISSING"  # still missing, as a Scan says


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patches: []\n", "expected a non-empty list of patches"),
        ("patches:\n  - 7\n", "override.yaml[0]: expected an object with an id"),
        ("patches: [unclosed\n", "invalid YAML"),
    ],
)
def test_cli_malformed_override_list_is_one_line(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path, text: str, message: str
) -> None:
    listed = tmp_path / "override.yaml"
    listed.write_text(text)
    result = pw("install", "--root", sandbox_node.root, "--override-list", listed, "--dry-run")
    assert result.returncode == 2, str(result)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_agent_executor_install_override_list(sandbox_node: SandboxNode, tmp_path: Path) -> None:
    """The agent's RunPatchBaseline Install with InstallOverrideList (the delivery as the
    server sends it): the same use case, and the inventory it collected comes back."""
    from patchwarden import wire
    from patchwarden.agent.execute import Executor

    delivery = wire.Delivery(
        invocation_id="i-1",
        command_id="c-1",
        document_name="AWS-RunPatchBaseline",
        parameters={
            "Operation": "Install",
            "RebootOption": "NoReboot",
            "InstallOverrideList": [{"id": "bar", "title": "bar"}],
        },
    )
    outcome = Executor(str(sandbox_node.root), tmp_path / "agent").run(delivery)
    assert outcome.result.status == "Success", outcome.result.output
    assert sandbox_node.dpkg_versions()["bar"] == "2.1-1"
    assert sandbox_node.dpkg_versions()["libfoo1"] == "1.0-1"
    assert outcome.inventory is not None
    installed = {ip.package.name: ip.package.version for ip in outcome.inventory.installed}
    assert installed["bar"] == "2.1-1"  # collected after the install: nothing to collect again
    assert outcome.result.report is not None and outcome.result.report["operation"] == "Install"
