"""Scan of sandbox roots with real apt: Patchwarden must agree with apt itself.

The oracle is apt run on the same root with the same ``APT_CONFIG`` the product uses:
``apt list --upgradable`` for what is upgradable and ``apt-cache policy`` for candidates.
Both the pipeline (``patchwarden.pipeline.scan.scan``) and the real CLI are driven.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from sandbox import (
    APPROVE_ALL_UPDATES,
    NOW,
    SECURITY_UPDATES,
    STANDARD_STATE,
    UBUNTU_SUITES,
    Cli,
    DebSpec,
    JsonReport,
    NodeFactory,
    Repo,
    SandboxNode,
    baseline_document,
    build_deb,
    build_repo,
    deb_filename,
    load_baseline,
    write_baseline,
)

from patchwarden.adapters.state import LocalState
from patchwarden.core.compliance import evaluate
from patchwarden.core.model import Compliance, PatchItem, PatchState
from patchwarden.pipeline.scan import scan

pytestmark = pytest.mark.integration

APPROVE_ALL = baseline_document("approve-all")


def missing(report_items: Iterable[PatchItem]) -> dict[str, str | None]:
    """{name: available_version} of the MISSING items of a pipeline report."""
    return {i.name: i.available_version for i in report_items if i.state is PatchState.MISSING}


def json_states(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["state"] for p in report["patches"]}


def json_missing(report: JsonReport) -> dict[str, str]:
    return {p["name"]: p["available_version"] for p in report["patches"] if p["state"] == "MISSING"}


def apt_upgrades(node: SandboxNode) -> dict[str, str]:
    return {name: u.version for name, u in node.upgradable().items()}


def pw_updates(node: SandboxNode) -> dict[str, str]:
    """What a baseline approving everything reports MISSING: apt's own choice."""
    inventory = node.pm().collect()
    result = evaluate(inventory, load_baseline(APPROVE_ALL), NOW)
    return {
        i.name: i.available_version or "" for i in result.items if i.state is PatchState.MISSING
    }


# -- the pipeline against apt ----------------------------------------------------------------


def test_sandbox_node_has_the_old_versions_installed(sandbox_node: SandboxNode) -> None:
    assert sandbox_node.dpkg_versions() == STANDARD_STATE
    assert apt_upgrades(sandbox_node) == APPROVE_ALL_UPDATES


def test_approve_all_reports_missing_exactly_what_apt_can_upgrade(
    sandbox_node: SandboxNode, state: LocalState
) -> None:
    apt = sandbox_node.upgradable()
    report = scan(sandbox_node.pm(), load_baseline(APPROVE_ALL), NOW, state=state)

    assert missing(report.items) == {name: u.version for name, u in apt.items()}
    assert missing(report.items) == APPROVE_ALL_UPDATES
    by_name = {i.name: i for i in report.items}
    for name, line in apt.items():
        assert by_name[name].installed_version == line.installed
    # one item per installed package, nothing for packages that are not installed
    assert sorted(by_name) == sorted(STANDARD_STATE)
    assert "qux" not in by_name and "evil" not in by_name
    assert by_name["calm"].state is PatchState.INSTALLED
    assert report.summary.compliance is Compliance.NON_COMPLIANT
    assert report.summary.counts["MISSING"] == len(APPROVE_ALL_UPDATES)
    assert report.node.hostname == "sandbox"
    assert report.node.os.product == "Debian12"


def test_default_baseline_reports_only_security_pocket_candidates(
    sandbox_node: SandboxNode, state: LocalState
) -> None:
    apt = sandbox_node.upgradable()
    from_security = {
        name: u.version for name, u in apt.items() if any(s.endswith("-security") for s in u.suites)
    }
    report = scan(sandbox_node.pm(), None, NOW, state=state)

    assert report.baseline == "AWS-DebianDefaultPatchBaseline"
    assert missing(report.items) == from_security == SECURITY_UPDATES
    by_name = {i.name: i for i in report.items}
    for name in ("bar", "baz", "bpo-tool"):  # upgradable, but not from a security pocket
        assert by_name[name].state is PatchState.INSTALLED_OTHER
        assert by_name[name].available_version is None
    assert report.summary.compliance is Compliance.NON_COMPLIANT
    assert report.summary.security_non_compliant == len(SECURITY_UPDATES)


def test_origins_classification_and_source_packages(sandbox_node: SandboxNode) -> None:
    inventory = sandbox_node.pm().collect()
    updates = {u.name: u for u in inventory.updates}

    libfoo = updates["libfoo1"]
    assert libfoo.classification == "Security"
    assert libfoo.update_notice is True
    assert libfoo.repository == "bookworm-security"
    assert [(o.origin, o.label, o.archive, o.codename, o.component) for o in libfoo.origins] == [
        ("Debian", "Debian-Security", "bookworm-security", "bookworm-security", "main")
    ]
    assert (libfoo.source_name, libfoo.source_version) == ("foo", "1.0-1+deb12u1")
    assert (updates["foo-utils"].source_name, updates["foo-utils"].section) == ("foo", "utils")
    assert libfoo.section == "libs"
    assert libfoo.priority.lower() == "optional"

    bar = updates["bar"]
    assert bar.classification == ""
    assert bar.update_notice is False
    assert bar.repository == "bookworm"
    assert [(o.label, o.archive) for o in bar.origins] == [("Debian", "bookworm")]
    assert (bar.source_name, bar.section) == ("bar", "net")

    bpo = updates["bpo-tool"]
    assert bpo.repository == "bookworm-backports"
    assert bpo.classification == ""

    installed = {ip.package.name: ip.package for ip in inventory.installed}
    # a binNMU: "Source: calm (1.0-1)" gives the source version without the +b1
    assert (installed["calm"].source_name, installed["calm"].source_version) == ("calm", "1.0-1")
    assert (installed["libfoo1"].source_name, installed["libfoo1"].version) == ("foo", "1.0-1")
    assert {ip.status for ip in inventory.installed} == {"installed"}


def test_the_priority_filter_uses_apt_priority_values(
    sandbox_node: SandboxNode, state: LocalState
) -> None:
    """A PRIORITY filter with the AWS values (Optional …) matches apt's ``optional``."""
    doc = baseline_document(
        "optional-only", filters={"PRODUCT": ["*"], "PRIORITY": ["Optional"], "SECTION": ["net"]}
    )
    report = scan(sandbox_node.pm(), load_baseline(doc), NOW, state=state)
    assert missing(report.items) == {"bar": "2.1-1"}


def test_reboot_required_flag(sandbox_node: SandboxNode, state: LocalState) -> None:
    assert scan(sandbox_node.pm(), None, NOW, state=state).reboot_required is False
    sandbox_node.set_reboot_required("libfoo1", "libfoo1", "bar")
    inventory = sandbox_node.pm().collect()
    assert inventory.reboot_required is True
    assert inventory.reboot_packages == ("libfoo1", "bar")
    assert scan(sandbox_node.pm(), None, NOW, state=state).reboot_required is True


# -- pins and suite priorities: the candidate must be apt's ----------------------------------

PinScenario = tuple[dict[str, str], tuple[str, ...], dict[str, str | None]]
"""(files under etc/apt, extra suites, changes to APPROVE_ALL_UPDATES; None: no update)."""

PIN_SCENARIOS: dict[str, PinScenario] = {
    "bar-pinned-at-installed-version-1001": (
        {
            "preferences.d/bar": """\
                Package: bar
                Pin: version 2.0-1
                Pin-Priority: 1001
                """
        },
        (),
        {"bar": None},
    ),
    "security-pocket-never": (
        {
            "preferences.d/no-security": """\
                Package: *
                Pin: release a=bookworm-security
                Pin-Priority: -1
                """
        },
        (),
        {"libfoo1": None, "foo-utils": None, "needs-evil": None},
    ),
    "bar-from-backports-500": (
        {
            "preferences.d/bar-bpo": """\
                Package: bar
                Pin: release a=bookworm-backports
                Pin-Priority: 500
                """
        },
        (),
        {"bar": "3.0-1~bpo12+1"},
    ),
    "backports-pinned-to-1-still-follow-backports": (
        {
            "preferences.d/bpo": """\
                Package: bpo-*
                Pin: release n=bookworm-backports
                Pin-Priority: 1
                """
        },
        (),
        {},  # the installed version is pinned to 1 too: the newer one still wins the tie
    ),
    "glob-version-pin-never": (
        {
            "preferences.d/bpo": """\
                Package: bpo-*
                Pin: version 1.1*
                Pin-Priority: -1
                """
        },
        (),
        {"bpo-tool": None},
    ),
    "regex-pin-on-the-release": (
        {
            "preferences.d/regex": """\
                # bar and baz: never from the release itself
                Package: /^ba[rz]$/
                Pin: release l=Debian, a=bookworm
                Pin-Priority: -10
                """
        },
        (),
        {"bar": "3.0-1~bpo12+1", "baz": None},  # bar then follows backports
    ),
    "default-release": (
        {"apt.conf.d/90default-release": 'APT::Default-Release "bookworm";\n'},
        (),
        {"libfoo1": None, "foo-utils": None, "needs-evil": None},
    ),
    "experimental-not-automatic": ({}, ("experimental",), {}),
    "experimental-pinned-for-calm": (
        {
            "preferences.d/calm": """\
                Package: calm
                Pin: release n=rc-buggy
                Pin-Priority: 500
                """
        },
        ("experimental",),
        {"calm": "2.0-1"},
    ),
    "local-origin-never": (
        {
            "preferences.d/local": """\
                Package: *
                Pin: origin ""
                Pin-Priority: -1
                """
        },
        (),
        {name: None for name in APPROVE_ALL_UPDATES},
    ),
}


@pytest.mark.parametrize("scenario", sorted(PIN_SCENARIOS))
def test_candidates_agree_with_apt_policy(make_node: NodeFactory, scenario: str) -> None:
    files, extra_suites, changes = PIN_SCENARIOS[scenario]
    node = make_node(suites=("bookworm", "bookworm-security", "bookworm-backports", *extra_suites))
    for rel, text in files.items():
        if rel.startswith("apt.conf.d/"):
            (node.root / "etc/apt" / rel).write_text(text)
        else:
            node.write_preferences(rel.split("/", 1)[1], text)

    ours = pw_updates(node)
    apts = apt_upgrades(node)
    assert ours == apts
    for name, version in STANDARD_STATE.items():
        candidate = node.policy_candidate(name)
        if name in ours:
            assert candidate == ours[name], name
        else:  # apt says "(none)" when every version, the installed one too, is pinned < 0
            assert candidate in (version, None), name
    expected = {**APPROVE_ALL_UPDATES, **changes}
    assert ours == {k: v for k, v in expected.items() if v is not None}


def test_backports_with_but_automatic_upgrades_behave_as_apt(make_node: NodeFactory) -> None:
    """NotAutomatic + ButAutomaticUpgrades: a package installed from backports follows
    backports; one installed from the release does not move to backports."""
    node = make_node()
    ours = pw_updates(node)
    assert ours["bpo-tool"] == "1.1-1~bpo12+1"
    assert ours["bar"] == "2.1-1"  # not 3.0-1~bpo12+1 from backports
    assert node.policy_candidate("bar") == "2.1-1"
    assert ours == apt_upgrades(node)


def test_a_package_already_at_its_candidate_has_no_update(make_node: NodeFactory) -> None:
    node = make_node(bar="2.1-1", libfoo1="1.0-1+deb12u1", foo_utils=None, needs_evil=None)
    assert node.dpkg_versions()["bar"] == "2.1-1"
    ours = pw_updates(node)
    assert "bar" not in ours and "libfoo1" not in ours
    assert ours == apt_upgrades(node)


# -- the command line ------------------------------------------------------------------------


def test_cli_scan_json_approve_all(sandbox_node: SandboxNode, pw: Cli, tmp_path: Path) -> None:
    baseline = write_baseline(tmp_path / "approve-all.yaml", APPROVE_ALL)
    result = pw("scan", "--root", sandbox_node.root, "--baseline", baseline, "--format", "json")
    assert result.returncode == 0, str(result)
    report = result.json()
    assert json_missing(report) == apt_upgrades(sandbox_node) == APPROVE_ALL_UPDATES
    assert report["compliance"] == "NON_COMPLIANT"
    assert report["baseline"]["name"] == "approve-all"
    assert report["operation"] == "Scan"
    assert report["node"]["hostname"] == "sandbox"
    assert report["node"]["root"] == str(sandbox_node.root)
    assert report["node"]["product"] == "Debian12"
    assert report["node"]["os"]["operating_system"] == "DEBIAN"
    assert report["node"]["os"]["codename"] == "bookworm"
    assert report["reboot_required"] is False
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["libfoo1"]["classification"] == "Security"
    assert patches["libfoo1"]["repository"] == "bookworm-security"
    assert patches["libfoo1"]["installed_version"] == "1.0-1"
    assert patches["bar"]["classification"] == ""
    assert patches["bar"]["repository"] == "bookworm"
    assert patches["baz"]["available_version"] == "1:0.9-1"
    assert patches["calm"]["state"] == "INSTALLED"
    assert set(patches) == set(STANDARD_STATE)
    assert report["summary"]["MISSING"] == len(APPROVE_ALL_UPDATES)


def test_cli_scan_default_baseline(sandbox_node: SandboxNode, pw: Cli) -> None:
    result = pw("scan", "--root", sandbox_node.root, "--format", "json")
    assert result.returncode == 0, str(result)
    report = result.json()
    assert report["baseline"]["name"] == "AWS-DebianDefaultPatchBaseline"
    assert json_missing(report) == SECURITY_UPDATES
    states = json_states(report)
    assert states["bar"] == states["baz"] == states["bpo-tool"] == "INSTALLED_OTHER"


def test_cli_scan_table_output(sandbox_node: SandboxNode, pw: Cli) -> None:
    result = pw("scan", "--root", sandbox_node.root)
    assert result.returncode == 0, str(result)
    assert "NON_COMPLIANT" in result.stdout
    assert "libfoo1" in result.stdout and "1.0-1+deb12u1" in result.stdout


def test_cli_reboot_required_in_json(sandbox_node: SandboxNode, pw: Cli) -> None:
    sandbox_node.set_reboot_required("libfoo1")
    report = pw("scan", "--root", sandbox_node.root, "--format", "json").json()
    assert report["reboot_required"] is True


def test_cli_fail_on_noncompliant(make_node: NodeFactory, pw: Cli, tmp_path: Path) -> None:
    behind = make_node()
    result = pw("scan", "--root", behind.root, "--fail-on-noncompliant", "--format", "json")
    assert result.returncode == 1, str(result)
    assert result.json()["compliance"] == "NON_COMPLIANT"

    # every security update in place: the default baseline finds nothing missing
    current = make_node(libfoo1="1.0-1+deb12u1", foo_utils="1.0-1+deb12u1", needs_evil=None)
    result = pw("scan", "--root", current.root, "--fail-on-noncompliant", "--format", "json")
    assert result.returncode == 0, str(result)
    assert result.json()["compliance"] == "COMPLIANT"

    # without the flag a non-compliant node still exits 0
    assert pw("scan", "--root", behind.root, "--format", "json").returncode == 0


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: patchwarden/v1\nkind: PatchBaseline\nmetadata: {name: broken}\n"
        "spec:\n  OperatingSystem: DEBIAN\n  ApprovalRules:\n    PatchRules:\n"
        "      - PatchFilterGroup: {PatchFilters: [{Key: PRODUCT, Values: ['*']}]}\n"
        "        ApproveAfterDays: 400\n",
        "apiVersion: patchwarden/v1\nkind: PatchBaseline\nmetadata: {name: broken}\n"
        "spec: {OperatingSystem: DEBIAN, Colour: blue}\n",
        "apiVersion: patchwarden/v1\nkind: PatchBaseline\nmetadata: {name: broken\n",
        "{ not json",
    ],
    ids=["out-of-range", "unknown-field", "bad-yaml", "bad-json"],
)
def test_cli_malformed_baseline_exits_2_with_one_line(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path, text: str
) -> None:
    path = tmp_path / ("baseline.json" if text.startswith("{") else "baseline.yaml")
    path.write_text(text)
    result = pw("scan", "--root", sandbox_node.root, "--baseline", path)
    assert result.returncode == 2, str(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, str(result)
    assert lines[0].startswith("patchwarden: error:")
    assert "Traceback" not in result.stderr


def test_cli_missing_baseline_file_exits_2(
    sandbox_node: SandboxNode, pw: Cli, tmp_path: Path
) -> None:
    result = pw("scan", "--root", sandbox_node.root, "--baseline", tmp_path / "nope.yaml")
    assert result.returncode == 2, str(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("problem", ["no-os-release", "not-debian", "missing-root"])
def test_cli_environment_problems_exit_3(
    sandbox_ready: None, pw: Cli, tmp_path: Path, problem: str
) -> None:
    root = tmp_path / "root"
    if problem == "no-os-release":
        SandboxNode(root, os_id=None)
    elif problem == "not-debian":
        SandboxNode(root)
        (root / "etc/os-release").write_text(
            'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n'
        )
    for command in (["scan"], ["install", "--dry-run"]):
        result = pw(*command, "--root", root, "--format", "json")
        assert result.returncode == 3, str(result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("patchwarden: error:"), str(result)
        assert "Traceback" not in result.stderr
        assert result.stdout == ""


# -- Ubuntu ----------------------------------------------------------------------------------

UBUNTU_PACKAGES = (
    DebSpec("jammy", "libfoo1", "1.0-1", section="libs", source="foo"),
    DebSpec("jammy", "bar", "2.0-1", section="net"),
    # Ubuntu publishes security fixes in -security and -updates
    DebSpec("jammy-security", "libfoo1", "1.0-1ubuntu0.1", section="libs", source="foo"),
    DebSpec("jammy-updates", "libfoo1", "1.0-1ubuntu0.1", section="libs", source="foo"),
    DebSpec("jammy-updates", "bar", "2.0-1ubuntu0.1", section="net"),
)


@pytest.fixture(scope="module")
def ubuntu_repo(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("ubuntu-repo")
    return build_repo(base / "repo", base / "work", UBUNTU_PACKAGES, UBUNTU_SUITES)


def test_ubuntu_node_default_baseline(ubuntu_repo: Repo, tmp_path: Path, pw: Cli) -> None:
    make = NodeFactory(
        tmp_path / "nodes",
        ubuntu_repo,
        suites=("jammy", "jammy-updates", "jammy-security"),
        state={"libfoo1": "1.0-1", "bar": "2.0-1"},
        os_id="ubuntu",
    )
    node = make(name="ubuntu1")
    assert apt_upgrades(node) == {"libfoo1": "1.0-1ubuntu0.1", "bar": "2.0-1ubuntu0.1"}
    assert pw_updates(node) == apt_upgrades(node)
    updates = {u.name: u for u in node.pm().collect().updates}
    assert updates["libfoo1"].classification == "Security"
    assert set(updates["libfoo1"].repository.split(",")) == {"jammy-security", "jammy-updates"}
    assert updates["bar"].classification == ""

    report = pw("scan", "--root", node.root, "--format", "json").json()
    assert report["node"]["product"] == "Ubuntu22.04"
    assert report["node"]["os"]["operating_system"] == "UBUNTU"
    assert report["baseline"]["name"] == "AWS-UbuntuDefaultPatchBaseline"
    assert json_missing(report) == {"libfoo1": "1.0-1ubuntu0.1"}
    assert json_states(report)["bar"] == "INSTALLED_OTHER"


# -- phased updates (Ubuntu): kept back exactly when apt-get upgrade keeps them back ----------


def test_phased_updates_agree_with_apt_get_upgrade(sandbox_ready: None, tmp_path: Path) -> None:
    specs = [
        DebSpec("jammy", "p-zero", "1.0-1"),
        DebSpec("jammy", "p-half", "1.0-1"),
        DebSpec("jammy", "p-full", "1.0-1"),
    ]
    repo = build_repo(tmp_path / "repo", tmp_path / "work", specs, UBUNTU_SUITES)
    for name, pct in (("p-zero", "0"), ("p-half", "50"), ("p-full", "100")):
        deb = build_deb(
            tmp_path / "work",
            name,
            "1.1-1",
            extra_control={"Phased-Update-Percentage": pct},
        )
        repo.add("jammy-updates", deb)
    repo.publish()

    half_offered = 0
    for i in range(8):  # fixed machine ids: the same draws on every run
        node = SandboxNode(tmp_path / f"n{i}", os_id="ubuntu", machine_id=f"{i + 1:032x}")
        node.add_source(repo, ["jammy", "jammy-updates"])
        node.apt_update()
        node.apt_install("p-zero=1.0-1", "p-half=1.0-1", "p-full=1.0-1")
        ours = pw_updates(node)
        assert ours == node.simulated_upgrade(), f"machine-id {i + 1:032x}"
        assert "p-zero" not in ours and ours["p-full"] == "1.1-1"
        half_offered += "p-half" in ours
    assert 0 < half_offered < 8  # both outcomes of the 50% draw were exercised


# -- dpkg states, --refresh, the inventory cache ---------------------------------------------


def test_an_interrupted_install_is_failed(
    sandbox_node: SandboxNode, deb_repo: Repo, state: LocalState
) -> None:
    deb = deb_repo.file("bookworm", deb_filename("bar", "2.1-1", "all"))
    sandbox_node.dpkg("--unpack", str(deb))  # unpacked, never configured
    assert "bar" not in sandbox_node.dpkg_versions()  # dpkg: "iU", not "ii"

    report = scan(sandbox_node.pm(), load_baseline(APPROVE_ALL), NOW, state=state)
    bar = {i.name: i for i in report.items}["bar"]
    assert bar.state is PatchState.FAILED
    assert "unpacked" in bar.detail
    assert report.summary.compliance is Compliance.NON_COMPLIANT

    sandbox_node.dpkg("--configure", "-a")
    report = scan(sandbox_node.pm(), load_baseline(APPROVE_ALL), NOW, state=state)
    assert {i.name: i for i in report.items}["bar"].state is PatchState.INSTALLED


def test_cli_refresh_updates_the_lists_of_the_root(deb_repo: Repo, tmp_path: Path, pw: Cli) -> None:
    repo = deb_repo.clone(tmp_path / "repo")
    node = NodeFactory(tmp_path / "nodes", repo)(name="refreshing")
    repo.add(
        "bookworm-security", build_deb(tmp_path / "debs", "bar", "2.1-1+deb12u1", section="net")
    )
    repo.publish()

    stale = pw("scan", "--root", node.root, "--format", "json").json()
    assert "bar" not in json_missing(stale)  # the root's lists do not know it yet
    fresh = pw("scan", "--root", node.root, "--format", "json", "--refresh").json()
    assert json_missing(fresh)["bar"] == "2.1-1+deb12u1"
    assert node.upgradable()["bar"].version == "2.1-1+deb12u1"  # apt sees the same lists


def test_inventory_cache_notices_a_changed_release_file(deb_repo: Repo, tmp_path: Path) -> None:
    repo = deb_repo.clone(tmp_path / "repo")
    node = NodeFactory(tmp_path / "nodes", repo)(name="relabelled")
    cache = tmp_path / "pw-cache"
    assert "bpo-tool" in {u.name for u in node.pm(cache).collect().updates}

    # backports loses ButAutomaticUpgrades: apt no longer upgrades bpo-tool on its own
    repo.suites["bookworm-backports"] = replace(
        repo.suites["bookworm-backports"], but_automatic_upgrades=False
    )
    repo.publish()
    node.apt_update("--allow-releaseinfo-change")
    assert "bpo-tool" not in node.upgradable()
    assert pw_updates(node) == apt_upgrades(node)  # a fresh cache agrees with apt
    assert {u.name: u.version for u in node.pm(cache).collect().updates} == apt_upgrades(node)


def test_inventory_cache_notices_hostname_and_reboot_packages(
    sandbox_node: SandboxNode, tmp_path: Path
) -> None:
    cache = tmp_path / "pw-cache"
    sandbox_node.set_reboot_required("libfoo1")
    assert sandbox_node.pm(cache).collect().reboot_packages == ("libfoo1",)
    (sandbox_node.root / "run/reboot-required.pkgs").write_text("libfoo1\nbar\n")
    (sandbox_node.root / "etc/hostname").write_text("renamed\n")
    inventory = sandbox_node.pm(cache).collect()
    assert inventory.reboot_packages == ("libfoo1", "bar")
    assert inventory.hostname == "renamed"
