"""``patchwarden install`` says what it will do: RebootIfNeeded is the default (as on AWS),
so an install on ``/`` announces the packages and the reboot on stderr before the package
manager runs, and ``--dry-run`` ends with the counts and what the reboot option would do."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_pipeline import SEC, FakeApt, pkg

from patchwarden.adapters import runner
from patchwarden.cli import run


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeApt:
    """A scripted package manager of ``/`` with two missing security patches."""
    monkeypatch.setenv("PATCHWARDEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-11-27T12:00:00Z")
    fake = FakeApt(
        {"libfoo": "1.0", "bar": "2.0"},
        [pkg("libfoo", "1.1", SEC), pkg("bar", "2.1", SEC)],
        root="/",
    )
    monkeypatch.setattr(run, "_pm", lambda root: fake)
    return fake


def test_install_on_root_announces_packages_and_reboot_first(
    host: FakeApt, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events: list[str] = []
    monkeypatch.setattr(run.os, "geteuid", lambda: 0)
    monkeypatch.setattr(runner, "host_reboot", lambda: events.append("reboot"))
    original = host.install

    def install(packages: object) -> object:
        events.append("install: " + capsys.readouterr().err)
        return original(packages)  # type: ignore[arg-type]

    monkeypatch.setattr(host, "install", install)
    code = run.run_install("/", None, "RebootIfNeeded", False, "json", False)
    assert code == 0
    assert events[-1] == "reboot"
    said = events[0].removeprefix("install: ")
    lines = [line for line in said.splitlines() if line.startswith("patchwarden: installing")]
    assert len(lines) == 1, said
    line = lines[0]
    assert "2 packages" in line and "libfoo 1.1" in line and "bar 2.1" in line
    assert "RebootIfNeeded" in line and "reboot" in line
    assert "--reboot-option NoReboot" in line


def test_install_no_reboot_says_no_reboot(
    host: FakeApt, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run.os, "geteuid", lambda: 0)
    assert run.run_install("/", None, "NoReboot", False, "json", False) == 0
    err = capsys.readouterr().err
    assert "patchwarden: installing 2 packages" in err
    assert "NoReboot" in err and "reboots afterwards" not in err


def test_dry_run_ends_with_counts_and_the_reboot(
    host: FakeApt, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.run_install("/", None, "RebootIfNeeded", True, "table", False) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("would install 2 packages; RebootIfNeeded: the host would reboot")
    assert host.installed == {"libfoo": "1.0", "bar": "2.0"}

    assert run.run_install("/", None, "NoReboot", True, "table", False) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("would install 2 packages; NoReboot: no reboot")
