"""``patchwarden demo`` without starting anything: its node plan, its feed, the documents
it ships, and the one-line errors of a missing tool or a busy port."""

from __future__ import annotations

import gzip
import io
import os
import socket
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.demo import packages
from patchwarden.demo.fleet import TOOLS, check_tools, plan_nodes
from patchwarden.demo.seed import Snapshot, first_window_run, window_document
from patchwarden.errors import EnvironmentProblem, InputError

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "src/patchwarden/demo/data"


def _demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchwarden", "demo", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_tool_is_one_line_naming_the_package_to_install() -> None:
    def which(tool: str) -> str | None:
        return None if tool == "apt-ftparchive" else f"/usr/bin/{tool}"

    with pytest.raises(EnvironmentProblem) as caught:
        check_tools(which)
    assert str(caught.value) == (
        "patchwarden demo needs apt-ftparchive, which is not installed: "
        "sudo apt-get install apt-utils"
    )
    assert caught.value.exit_code == 3
    check_tools(lambda tool: f"/usr/bin/{tool}")  # all there: no error


def test_the_command_exits_3_with_one_line_when_its_tools_are_missing(tmp_path: Path) -> None:
    out = _demo("--check", env={"PATH": str(tmp_path)})  # an empty PATH: no tool at all
    assert out.returncode == 3, out
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        "patchwarden: error: patchwarden demo needs dpkg-deb, apt-get, apt-ftparchive, which "
        f"are not installed: sudo apt-get install {' '.join(sorted(set(TOOLS.values())))}"
    ]


@pytest.mark.skipif(
    any(subprocess.run(["which", t], capture_output=True).returncode for t in TOOLS),
    reason="the demo's tools are not installed",
)
def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _demo("--check", "--port", str(port), "--dir", str(tmp_path / "demo"))
    assert out.returncode == 3, out
    assert out.stderr.splitlines() == [
        f"patchwarden: error: port {port} on 127.0.0.1 is in use: choose another with "
        "--port N (or leave --port out for a free one)"
    ]
    assert not (tmp_path / "demo").exists()


def test_the_nodes_show_both_compliance_states_from_two_nodes_on() -> None:
    for count in (2, 3, 4, 9):
        plans = plan_nodes(count)
        assert len({p.name for p in plans}) == count
        assert {p.expected for p in plans} == {"COMPLIANT", "NON_COMPLIANT"}
    four = plan_nodes(4)
    assert [p.name for p in four] == ["web-1", "db-1", "web-2", "db-2"]
    assert {p.tags["env"] for p in four} == {"prod", "staging"}
    assert four[0].installed == {"libdemo1": "1.0-1", "demo-tools": "1.0-1", "webapp": "2.0-1"}
    for count in (0, 1, 17):
        with pytest.raises(InputError):
            plan_nodes(count)


def test_the_feed_names_what_the_security_updates_fix() -> None:
    feed = packages.tracker_feed()
    fixed = {cve.id: (deb.source, deb.version) for deb in packages.CATALOG for cve in deb.fixes}
    assert fixed
    for cve, (source, version) in fixed.items():
        release = feed[source][cve]["releases"]["bookworm"]  # type: ignore[index]
        assert (release["status"], release["fixed_version"]) == ("resolved", version)
    (unfixed,) = packages.UNFIXED.values()
    release = feed["demo-tools"][unfixed.id]["releases"]["bookworm"]  # type: ignore[index]
    assert release["status"] == "open"


@pytest.mark.skipif(
    subprocess.run(["which", "dpkg-deb"], capture_output=True).returncode != 0,
    reason="dpkg-deb is not installed",
)
def test_a_security_update_changelog_names_its_cves(tmp_path: Path) -> None:
    deb = next(d for d in packages.CATALOG if d.name == "libdemo1" and d.fixes)
    built = packages.build_deb(deb, tmp_path)
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(built)], capture_output=True, text=True, check=True
    ).stdout
    assert "Version: 1.0-1+deb12u1" in fields and "Source: demo" in fields
    data = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(built)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("./usr/share/doc/libdemo1/changelog.Debian.gz")
        assert member is not None
        changelog = gzip.decompress(member.read()).decode()
    newest = changelog.split(" -- ", 1)[0]  # the first entry, up to its trailer
    assert newest.startswith("demo (1.0-1+deb12u1) bookworm-security; urgency=high")
    for cve in deb.fixes:
        assert cve.id in newest
    assert "demo (1.0-1) bookworm; urgency=medium" in changelog


@pytest.mark.parametrize(
    "example",
    [
        "conformance-packs/patching-essentials.yaml",
        "baselines/debian-approve-all.yaml",
        "baselines/debian-security-newest-in-release.yaml",
    ],
)
def test_the_shipped_documents_are_the_examples(example: str) -> None:
    """The package cannot read ``examples/`` once installed, so the demo ships copies:
    they must stay the examples, byte for byte."""
    source = ROOT / "examples" / example
    assert (SHIPPED / source.name).read_bytes() == source.read_bytes()


def test_the_readiness_check_says_what_is_missing() -> None:
    expected = {"mi-1": "NON_COMPLIANT", "mi-2": "COMPLIANT"}
    nodes = {
        "mi-1": {"name": "web-1", "ping_status": "Online"},
        "mi-2": {"name": "db-1", "ping_status": "ConnectionLost"},
    }
    empty = Snapshot(nodes, {"mi-1": "NON_COMPLIANT"}, 0, {}, None, None)
    assert empty.problems(expected) == [
        "1 of 2 nodes online",
        "compliance not as expected on db-1",
        "findings not assessed on web-1, db-1",
        "window demo-web-patching not scheduled",
        "conformance pack patching-essentials not scored",
    ]
    online = {i: {**n, "ping_status": "Online"} for i, n in nodes.items()}
    window = {"name": "demo-web-patching", "next_execution_time": "2026-12-06T04:30:00Z"}
    everyone = frozenset(expected)
    ready = Snapshot(online, expected, 3, {"HIGH": 3}, window, {"score": 50.0}, everyone)
    assert ready.problems(expected) == []
    assessed_clean = Snapshot(online, expected, 0, {}, window, {"score": 50.0}, everyone)
    assert assessed_clean.problems(expected) == ["no findings"]
    # the first node's findings are in, not yet the second's: the console would show half
    half = Snapshot(online, expected, 2, {"HIGH": 2}, window, {"score": 50.0}, frozenset({"mi-1"}))
    assert half.problems(expected) == ["findings not assessed on db-1"]


def test_the_window_first_runs_minutes_ahead_on_a_whole_minute() -> None:
    now = datetime(2026, 12, 6, 4, 59, 30, 123, tzinfo=UTC)
    first = first_window_run(now)
    assert first == datetime(2026, 12, 6, 5, 3, tzinfo=UTC)
    spec = window_document(first)["spec"]
    assert spec["Schedule"] == "cron(3 5 * * ? *)" and spec["ScheduleTimezone"] == "UTC"
    assert spec["Targets"] == [{"Key": "PatchGroup", "Values": ["web"]}]
