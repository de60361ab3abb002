"""Fixtures for tests that drive real apt/dpkg in sandbox roots (see :mod:`sandbox`).

- ``deb_repo``: the standard repository (session-scoped: one per xdist worker, read-only);
- ``make_node``: a factory of sandbox nodes on it (``make_node(bar="2.1-1")``);
- ``sandbox_node``: one fresh standard node;
- ``pw``: the real ``patchwarden`` command line with its own ``PATCHWARDEN_HOME``;
- ``state``: a fresh local state database for pipeline calls.

The host's dpkg database must never change: a session fixture compares its md5 before and
after every integration test run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sandbox import (
    NOW_ISO,
    Cli,
    CliResult,
    NodeFactory,
    Repo,
    SandboxNode,
    build_repo,
    missing_tools,
)

from patchwarden.adapters.state import LocalState

HOST_DPKG_STATUS = Path("/var/lib/dpkg/status")


def _md5(path: Path) -> str | None:
    try:
        return hashlib.md5(path.read_bytes()).hexdigest()
    except OSError:
        return None


@pytest.fixture(scope="session", autouse=True)
def host_dpkg_database_untouched() -> Iterator[None]:
    """The host's /var/lib/dpkg/status is byte-identical after the integration tests."""
    before = _md5(HOST_DPKG_STATUS)
    yield
    assert _md5(HOST_DPKG_STATUS) == before, (
        "the host's /var/lib/dpkg/status changed during the integration tests: "
        "something ran apt or dpkg outside its sandbox root (or another process installed "
        "packages on the host meanwhile: see /var/log/dpkg.log)"
    )


@pytest.fixture(scope="session")
def sandbox_ready() -> None:
    """Skip (with the reason) where real apt/dpkg sandboxes cannot run."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing tools for apt sandboxes: {', '.join(missing)} (run `make test`)")
    if os.geteuid() != 0:
        pytest.skip("dpkg --root installs need root (run the integration tests as root)")


@pytest.fixture(scope="session")
def deb_repo(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The standard repository (:data:`sandbox.STANDARD_PACKAGES`).  Treat it as read-only;
    clone it (``deb_repo.clone(tmp_path / "repo")``) to change it."""
    base = tmp_path_factory.mktemp("deb-repo")
    return build_repo(base / "repo", base / "work")


@pytest.fixture
def make_node(deb_repo: Repo, tmp_path: Path) -> NodeFactory:
    """``make_node(**package_state)``: fresh standard nodes (lists updated, old versions
    installed); ``make_node(bar="2.1-1", needs_evil=None, suites=[...], os_id="ubuntu")``."""
    return NodeFactory(tmp_path / "nodes", deb_repo)


@pytest.fixture
def sandbox_node(make_node: NodeFactory) -> SandboxNode:
    """A fresh standard node."""
    return make_node(name="sandbox")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[LocalState]:
    """A fresh local state database (first-seen dates, installs, boots)."""
    db = LocalState(tmp_path / "pw-state" / "state.db")
    yield db
    db.close()


# -- the command line ------------------------------------------------------------------------


def _patchwarden_bin() -> str:
    beside = Path(sys.executable).parent / "patchwarden"
    if beside.exists():
        return str(beside)
    found = shutil.which("patchwarden")
    if found is None:
        pytest.skip("the patchwarden console script is not installed (pip install -e .)")
    return found


@pytest.fixture
def pw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run the real ``patchwarden`` console script: ``pw("scan", "--root", root)``.

    ``PATCHWARDEN_HOME`` is a directory of this test; ``PATCHWARDEN_NOW`` is pinned to
    :data:`NOW` unless ``now=`` says otherwise (``now=None`` leaves the wall clock).
    """
    home = tmp_path / "pw-home"
    monkeypatch.setenv("PATCHWARDEN_HOME", str(home))
    monkeypatch.delenv("PATCHWARDEN_NOW", raising=False)
    exe = _patchwarden_bin()

    def run(*args: str | Path, now: str | None = NOW_ISO, check: bool = False) -> CliResult:
        argv = (exe, *(str(a) for a in args))
        env = dict(os.environ)
        if now is not None:
            env["PATCHWARDEN_NOW"] = now
        env.pop("PYTHONWARNINGS", None)
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
        )
        result = CliResult(argv, proc.returncode, proc.stdout, proc.stderr)
        if check:
            assert result.returncode == 0, str(result)
        return result

    return run


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a fleet server: a SQLite file, or a fresh PostgreSQL schema.

    Only an unreachable PostgreSQL skips (never under ``CI``); a failure of the test itself is
    never turned into a skip.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    from fleet_processes import pg_schema_or_skip

    with pg_schema_or_skip() as url:
        yield url


LOG_TAIL = 40
"""Lines of each server and agent log a failed test shows."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test shows the end of the logs its server and agent processes wrote under
    its ``tmp_path`` (a timeout in CI says what the processes were doing)."""
    report: pytest.TestReport = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and isinstance(tmp, Path):
        for log in sorted([*tmp.rglob("server-*.log"), *tmp.rglob("agent-*.log")]):
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            report.sections.append((f"{log.relative_to(tmp)} (last lines)", "\n".join(lines)))
    return report
