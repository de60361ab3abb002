"""``patchwarden agent|server install-service`` write systemd units that run the very
``patchwarden`` executable used (absolute path) with the chosen state dir, pass
``systemd-analyze verify``, and never put a database URL (password) into the
world-readable unit: it goes into an ``EnvironmentFile=`` of mode 0600."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from patchwarden.cli import services

EXE = Path(sys.executable).parent / "patchwarden"
PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
SECRET = "postgresql+psycopg://pw:s3cr'et%$x`y\\z@db.example/pw"

needs_exe = pytest.mark.skipif(not EXE.exists(), reason="the patchwarden script is not installed")


def pw(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATCHWARDEN_DATABASE_URL"}
    done = subprocess.run([str(EXE), *args], capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done


def verify(unit: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if str(unit) in line or unit.name in line
    ]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def exec_start(unit: Path) -> str:
    (line,) = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=")


@needs_exe
def test_agent_unit_runs_this_executable_with_the_state_dir(tmp_path: Path) -> None:
    units = tmp_path / "units"
    state = tmp_path / "agent state"
    out = pw(
        "agent",
        "install-service",
        "--state-dir",
        str(state),
        "--unit-dir",
        str(units),
        "--no-enable",
    ).stdout
    unit = units / "patchwarden-agent.service"
    assert f"wrote {unit}" in out
    assert exec_start(unit) == f'{EXE} agent run --state-dir "{state}"'
    assert "/usr/local/bin" not in unit.read_text()
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    verify(unit)


@needs_exe
def test_server_unit_keeps_the_database_url_out_of_the_unit(tmp_path: Path) -> None:
    units = tmp_path / "units"
    env_file = tmp_path / "etc" / "server.env"
    pw(
        "server",
        "install-service",
        "--database-url",
        SECRET,
        "--unit-dir",
        str(units),
        "--env-file",
        str(env_file),
        "--port",
        "8443",
        "--no-enable",
    )
    unit = units / "patchwarden-server.service"
    text = unit.read_text()
    assert "s3cr" not in text and "psycopg" not in text
    assert f"EnvironmentFile={env_file}" in text.splitlines()
    assert exec_start(unit) == f"{EXE} server --host 127.0.0.1 --port 8443"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    (line,) = env_file.read_text().splitlines()
    assert line.startswith("PATCHWARDEN_DATABASE_URL=")
    # what systemd's (shell-like) env-file parser yields is the URL, unchanged
    got = subprocess.run(
        ["sh", "-c", f'. {env_file} && printf %s "$PATCHWARDEN_DATABASE_URL"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert got == SECRET
    verify(unit)


def test_quote_for_exec_start() -> None:
    assert services.quote("/usr/bin/patchwarden") == "/usr/bin/patchwarden"
    assert services.quote("/srv/my dir") == '"/srv/my dir"'
    assert services.quote("/srv/100%") == "/srv/100%%"
    assert services.quote('a"b') == '"a\\"b"'


def test_packaged_examples_are_the_units_install_service_writes() -> None:
    agent = (PACKAGING / "patchwarden-agent.service").read_text()
    assert agent.endswith(
        services.agent_unit("/usr/local/bin/patchwarden", services.STATE_HOME / "agent")
    )
    server = (PACKAGING / "patchwarden-server.service").read_text()
    assert server.endswith(
        services.server_unit(
            "/usr/local/bin/patchwarden", "127.0.0.1", 8080, services.SERVER_ENV_FILE
        )
    )
    assert "install-service" in agent.splitlines()[1]
