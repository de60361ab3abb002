"""The golden-image loop end to end, as docs/deployments.md walks it, with real tools on
127.0.0.1: a web image (busybox httpd and a ``web-site`` package from a local mirror) is
built, gated and — its pipeline promotes it — deployed by runc behind nginx; a fixed
``web-site`` is published → the image is stale → it is rebuilt → a blue/green deployment
moves traffic to green while a client polls throughout with no failed request; canary and
linear waves show in the history; a rollout whose health check fails rolls back and
traffic never leaves blue; a rollback after success redeploys the previous image.

The steps share one mirror, image store and deployment group, in order: one test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import Poller, free_ports
from image_builds import make_mirror, require_image_builds

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples/deployments/web.yaml"
SITE_PACKAGE = REPO / "examples/deployments/support/site-package.py"
MIRROR_TOOL = REPO / "examples/images/support/local-mirror.py"
CLI = [sys.executable, "-m", "patchwarden"]
EPOCH = "1735689600"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, object]]:
    require_image_builds()
    missing = [t for t in ("runc", "nginx", "dpkg-deb") if not shutil.which(t)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing tools: {' '.join(missing)} (make test installs them)")
        pytest.skip(f"missing tools: {' '.join(missing)}")
    mirror = make_mirror(tmp_path / "mirror")
    debs = tmp_path / "debs"
    subprocess.run([sys.executable, str(SITE_PACKAGE), "1.0", str(debs)], check=True)
    subprocess.run(
        [
            sys.executable,
            str(MIRROR_TOOL),
            str(mirror),
            "--publish",
            str(debs / "web-site_1.0_all.deb"),
        ],
        check=True,
    )
    router, *slots = free_ports(5)
    docs = tmp_path / "docs"
    docs.mkdir()
    text = (
        EXAMPLE.read_text()
        .replace("/var/lib/patchwarden-example/repo", str(mirror))
        .replace("127.0.0.1:8080", f"127.0.0.1:{router}")
        .replace("basePort: 18080", f"basePort: {slots[0]}")
        .replace("terminationWaitTimeInMinutes: 0.25", "terminationWaitTimeInMinutes: 0.05")
    )
    (docs / "web.yaml").write_text(text)
    home = tmp_path / "home"
    env = {**os.environ, "PATCHWARDEN_HOME": str(home), "SOURCE_DATE_EPOCH": EPOCH}
    state = {"docs": docs, "env": env, "mirror": mirror, "debs": debs, "router": router}
    _cli(state, "db", "import", str(REPO / "examples/images/support/example-vulns.json"))
    yield state
    subprocess.run(
        ["runc", "--root", str(home / "deployments/groups/web/runc/runc"), "list", "-q"],
        capture_output=True,
    )
    runc_root = home / "deployments/groups/web/runc/runc"
    listed = subprocess.run(
        ["runc", "--root", str(runc_root), "list", "-q"], capture_output=True, text=True
    )
    for name in listed.stdout.split():
        subprocess.run(["runc", "--root", str(runc_root), "delete", "--force", name])
    nginx = home / "deployments/groups/web/nginx"
    conf = next(iter(nginx.glob("*.conf")), None) if nginx.exists() else None
    if conf is not None:
        subprocess.run(["nginx", "-s", "stop", "-c", str(conf), "-p", str(nginx)])


def _cli(state: dict[str, object], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=state["env"],
        timeout=600,  # type: ignore[arg-type]
    )
    assert done.returncode in ok, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def _publish(state: dict[str, object], version: str, *extra: str) -> None:
    debs = state["debs"]
    subprocess.run([sys.executable, str(SITE_PACKAGE), version, str(debs), *extra], check=True)
    deb = Path(str(debs)) / f"web-site_{version}_all.deb"
    subprocess.run(
        [sys.executable, str(MIRROR_TOOL), str(state["mirror"]), "--publish", str(deb)],
        check=True,
        capture_output=True,
    )


def _run(state: dict[str, object], *args: str, ok: tuple[int, ...] = (0,)) -> dict[str, object]:
    out = _cli(state, "deploy", "start", str(state["docs"]), "-q", "-f", "json", *args, ok=ok)
    return json.loads(out)


def _build(state: dict[str, object], *args: str, ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
    out = _cli(state, "image", "build", str(state["docs"]), "-q", "-f", "json", *args, ok=ok)
    built: dict[str, Any] = json.loads(out)
    return built


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode().strip()


def test_build_deploy_patch_rebuild_blue_green_canary_linear_and_rollbacks(
    world: dict[str, object],
) -> None:
    state = world
    url = f"http://127.0.0.1:{state['router']}/index.html"
    docs = str(state["docs"])

    # 1. build and gate the image; its pipeline promotes it: the group's first deployment
    built = _build(state, "--pipeline", "web")
    assert built["status"] == "AVAILABLE" and built["trigger"] == "manual"
    first = built["deployment"]
    assert first["status"] == "Succeeded" and first["image"] == "web 1.0.0/1"
    assert first["trigger"] == "promotion of web 1.0.0/1"
    assert _get(url) == "web-site 1.0"

    poller = Poller(url)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        # 2. a fix lands in the mirror: the image is stale, is rebuilt, and the rebuild
        # goes out blue/green while a client polls, without a failed request
        _publish(state, "1.1")
        tree = _cli(state, "image", "tree", "web", "--documents", docs)
        assert "STALE" in tree and "web-site" in tree
        rebuilt = _build(state, "--pipeline", "web", "--if-stale")
        same = _cli(state, "deploy", "start", docs, "--deployment", "web", "--image", "web:1.0.0/2")
        # 3. canary and linear waves (rolling the old image out and the new one back in);
        # the old image is stale: refused unless forced
        refused = subprocess.run(
            [*CLI, "deploy", "start", docs, "--deployment", "web-canary", "--image", "web:1.0.0/1"],
            capture_output=True,
            text=True,
            env=state["env"],  # type: ignore[arg-type]
        )
        canary = _run(state, "--deployment", "web-canary", "--image", "web:1.0.0/1", "--force")
        linear = _run(state, "--deployment", "web-linear")
        # 4. a rollout whose health check fails: traffic never leaves blue
        _publish(state, "1.2", "--broken")
        broken = _build(state, "--pipeline", "web", ok=(1,))
        time.sleep(0.5)
    finally:
        poller.stop.set()
        thread.join(timeout=10)
    assert rebuilt["status"] == "AVAILABLE" and rebuilt["version"] == "1.0.0/2"
    assert rebuilt["trigger"].startswith("stale: web-site 1.0 → 1.1")
    blue_green = rebuilt["deployment"]
    assert "web 1.0.0/2 already serves group web: nothing to do" in same
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "web 1.0.0/1 is stale (web-site 1.0 → 1.1" in refused.stderr
    assert blue_green["status"] == "Succeeded", blue_green
    assert blue_green["image"] == "web 1.0.0/2"
    assert blue_green["previous_image"] == "web 1.0.0/1"
    events = [e["event"] for e in blue_green["events"]]
    assert events.index("Healthy") < events.index("TrafficShifted") < events.index("BlueStopped")
    assert "Baking" in events

    shares = [e["green_percent"] for e in canary["events"] if e["event"] == "TrafficShifted"]
    assert canary["status"] == "Succeeded" and shares == [50, 100]
    shares = [e["green_percent"] for e in linear["events"] if e["event"] == "TrafficShifted"]
    assert linear["status"] == "Succeeded" and shares == [34, 68, 100]

    assert broken["status"] == "AVAILABLE" and broken["version"] == "1.0.0/3"
    failed = broken["deployment"]
    assert failed["status"] == "Failed" and failed["rolled_back"] is True
    assert "not healthy within" in failed["reason"] and "HTTP 404" in failed["reason"]
    assert not [e for e in failed["events"] if e["event"] == "TrafficShifted"]

    assert poller.failures == [], poller.failures[:5]
    assert poller.seen() == ["web-site 1.0", "web-site 1.1"] and poller.bodies[-1] == "web-site 1.1"
    assert "web-site 1.2" not in poller.bodies and len(poller.bodies) > 50

    # 6. rollback after success: the image before the last one is deployed again
    back = json.loads(_cli(state, "deploy", "rollback", "web", "-q", "-f", "json"))
    assert back["status"] == "Succeeded" and back["image"] == "web 1.0.0/1"
    assert back["trigger"] == f"rollback of {linear['id']}"
    assert _get(url) == "web-site 1.0"
    history = _cli(state, "deploy", "history", "web")
    assert history.count("Succeeded") >= 3 and "Failed (rolled back)" in history
    status = _cli(state, "deploy", "status")
    assert "web 1.0.0/1" in status
