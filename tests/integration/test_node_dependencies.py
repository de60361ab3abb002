"""A node installs and runs Patchwarden without the server's dependencies.

``pip install patchwarden`` brings only what ``scan``, ``install`` and the agent use; the web
framework, the database layer and the SBOM library are extras (``[server]``, ``[sbom]``).
The run-time check: with those modules made unimportable, scan, install and the agent's
RunPatchBaseline still work on a sandbox root, and ``patchwarden server`` says which extra
to install, in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from sandbox import SandboxNode

pytestmark = pytest.mark.integration

SERVER_SIDE = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "cyclonedx")

_BLOCK = f"""
import importlib.abc, sys
BLOCKED = {SERVER_SIDE!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code, *args], capture_output=True, text=True, check=False
    )


def test_the_base_install_requires_no_server_dependency() -> None:
    base = [r for r in requires("patchwarden") or [] if "extra ==" not in r]
    names = {
        r.split(";")[0].split("[")[0].split(">")[0].split("<")[0].strip().lower() for r in base
    }
    assert names == {"rich", "pyyaml", "pydantic", "lz4", "httpx", "packageurl-python", "zstandard"}
    extras = [r for r in requires("patchwarden") or [] if 'extra == "server"' in r]
    assert any(r.startswith("fastapi") for r in extras)


def test_scan_install_and_the_agent_run_without_them(
    sandbox_node: SandboxNode, tmp_path: Path
) -> None:
    code = """
import json, sys
from patchwarden.cli.main import main
for argv in (["scan", "--root", sys.argv[1], "--format", "json"],
             ["install", "--root", sys.argv[1], "--dry-run"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, (argv, exc.code)
from patchwarden import wire
from patchwarden.agent.execute import Executor
from patchwarden.agent.loop import Agent
delivery = wire.Delivery("i-1", "c-1", "AWS-RunPatchBaseline", {"Operation": "Scan"})
outcome = Executor(sys.argv[1], __import__("pathlib").Path(sys.argv[2])).run(delivery)
assert outcome.result.status == "Success", outcome.result.output
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
print(json.dumps({"loaded": loaded, "missing": outcome.result.report["summary"]["MISSING"]}))
"""
    proc = _run(code, str(sandbox_node.root), str(tmp_path / "agent"))
    assert proc.returncode == 0, proc.stderr  # an import of a blocked module would fail it
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["loaded"] == [] and last["missing"] > 0, last


def test_the_server_command_names_the_extra_it_needs(tmp_path: Path) -> None:
    code = """
import sys
from patchwarden.cli.main import main
main(["server", "--port", "0", "--database-url", "sqlite:///" + sys.argv[1]])
"""
    proc = _run(code, str(tmp_path / "server.db"))
    assert proc.returncode == 3, proc.stderr
    (line,) = proc.stderr.strip().splitlines()  # one line, no traceback
    assert "pip install 'patchwarden[server]'" in line
