"""``patchwarden demo`` end to end: the real command, its real server, agents and apt roots.

``--check`` sets everything up, verifies it and exits 0; the plain command serves the fleet
(queried here through the API with the tokens it printed) until SIGTERM, then leaves no
process and no directory behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
PATIENCE = 180.0


def _argv(*args: str) -> list[str]:
    """``patchwarden demo ARGS`` on a free port (not 8080: tests run in parallel)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "patchwarden", "demo", "--port", str(port), *args]


def _env(tmp_path: Path) -> dict[str, str]:
    """The demo's temporary directory lands in ``tmp_path`` (tempfile reads TMPDIR)."""
    return {**os.environ, "TMPDIR": str(tmp_path)}


def _printed(stdout: str) -> dict[str, str]:
    """The URL, the two tokens and the directory, as the demo prints them."""
    found = {
        "url": re.search(r"^Patchwarden demo ready in \d+ s: (http://\S+)$", stdout, re.M),
        "admin": re.search(r"^  admin token +(pwt_\S+)$", stdout, re.M),
        "operator": re.search(r"^  operator token +(pwt_\S+)$", stdout, re.M),
        "dir": re.search(r"^Files: (\S+) ", stdout, re.M),
    }
    missing = [k for k, m in found.items() if m is None]
    assert not missing, f"{missing} not printed:\n{stdout}"
    return {k: m.group(1) for k, m in found.items() if m is not None}


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_demo_check_sets_up_a_populated_fleet_and_exits(tmp_path: Path) -> None:
    started = time.monotonic()
    out = subprocess.run(
        _argv("--check", "--nodes", "3"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    printed = _printed(out.stdout)
    assert "check passed" in out.stdout
    for line in ("web-1", "db-1", "web-2"):
        assert re.search(rf"^    {line} +mi-[0-9a-f]{{17}} ", out.stdout, re.M), out.stdout
    assert "NON_COMPLIANT" in out.stdout and " COMPLIANT " in out.stdout
    # the tokens appear once, on stdout only
    for token in (printed["admin"], printed["operator"]):
        assert out.stdout.count(token) == 1 and token not in out.stderr
    # nothing left behind: no directory, no server
    assert not Path(printed["dir"]).exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{printed['url']}/healthz", timeout=2)
    print(f"demo --check --nodes 3 took {time.monotonic() - started:.1f} s")


def _read_until_ready(stdout: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stdout:
        lines.put(line)
    lines.put(None)


def test_demo_serves_the_fleet_until_sigterm_then_cleans_up(tmp_path: Path) -> None:
    stderr = (tmp_path.parent / f"{tmp_path.name}-demo.err").open("w")
    proc = subprocess.Popen(
        _argv("--nodes", "3"),
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_until_ready, args=(proc.stdout, lines), daemon=True).start()
        text = ""
        deadline = time.monotonic() + PATIENCE
        while "Ctrl-C stops the demo." not in text:
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            assert line is not None, f"the demo ended early:\n{text}"
            text += line
        printed = _printed(text)
        children = _children(proc.pid)
        assert len(children) == 4  # the server and three agents

        def get(path: str, token: str = printed["operator"]) -> Any:
            answer = httpx.get(
                printed["url"] + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        nodes = get("/api/v1/nodes")
        assert sorted(n["name"] for n in nodes) == ["db-1", "web-1", "web-2"]
        assert {n["ping_status"] for n in nodes} == {"Online"}
        compliance = {c["node_name"]: c["compliance"] for c in get("/api/v1/compliance")}
        assert compliance == {"web-1": "NON_COMPLIANT", "db-1": "COMPLIANT", "web-2": "COMPLIANT"}
        findings = get("/api/v1/findings")
        assert findings["count"] > 0
        assert {f["vulnerability_id"] for f in findings["findings"]} >= {
            "CVE-2099-1001",
            "CVE-2099-2001",
        }
        (window,) = get("/api/v1/windows")
        assert window["name"] == "demo-web-patching" and window["next_execution_time"]
        score = get("/api/v1/conformance-packs/patching-essentials/score")
        assert isinstance(score["score"], float) and 0 < score["score"] < 100
        groups = {(g["patch_group"], g["baseline"]) for g in get("/api/v1/patch-groups")}
        assert groups == {
            ("web", "debian-approve-all"),
            ("db", "debian-security-newest-in-release"),
        }
        tokens = {t["name"]: t for t in get("/api/v1/tokens", printed["admin"])}
        assert tokens["demo-admin"]["role"] == "admin" and not tokens["demo-admin"]["revoked_at"]
        assert tokens["demo-operator"]["role"] == "operator"
        assert tokens["initial-admin"]["revoked_at"]  # never shown, so revoked

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert all(_gone(pid) for pid in children)
        assert not Path(printed["dir"]).exists()
        assert list(tmp_path.iterdir()) == []
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{printed['url']}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
