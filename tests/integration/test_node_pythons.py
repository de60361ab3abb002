"""The node component on the fleet's own Pythons (3.6 … 3.10): its unit tests
(``tests/node``, stdlib ``unittest``) pass under each pyenv interpreter, and every file the
bundle carries compiles under 3.6."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
VERSIONS = ("3.6", "3.7", "3.8", "3.9", "3.10")


def _key(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def interpreter(version: str) -> str:
    """The newest pyenv build of ``version`` (skip when this machine has none)."""
    found = glob.glob(str(PYENV / "versions" / f"{version}.*" / "bin" / "python"))
    if not found:
        pytest.skip(
            f"Python {version} is not installed under {PYENV}/versions (pyenv install {version})"
        )
    return max(found, key=_key)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(REPO / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_node_unit_tests_pass(version: str) -> None:
    python = interpreter(version)
    done = _run([python, "-m", "unittest", "discover", "-s", "tests/node", "-t", "tests/node"])
    assert done.returncode == 0, f"{python}:\n{done.stdout}\n{done.stderr}"
    assert "Ran " in done.stderr, done.stderr


def test_node_files_compile_under_3_6() -> None:
    python = interpreter("3.6")
    src = REPO / "src" / "patchwarden"
    files = [
        *sorted((src / "node").glob("*.py")),
        src / "wire.py",
        src / "aptcmd.py",
        src / "dnfcmd.py",
        src / "apkcmd.py",
        src / "zyppercmd.py",
        src / "osnames.py",
    ]
    files.append(src / "__init__.py")
    code = (
        "import sys\n"
        "bad = []\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
        "    except SyntaxError as exc:\n"
        "        bad.append('{}:{}: {}'.format(path, exc.lineno, exc.msg))\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = _run([python, "-c", code, *map(str, files)])
    assert done.returncode == 0, done.stdout + done.stderr
