"""Deployments on the server (SQLite and PostgreSQL): ``Deployment`` documents through
``apply``, runs started by the API and carried out on a background thread with real
processes (command hooks: a ``python3 -m http.server`` per instance, a route hook that
writes its weights), rollback, the audit log, and bad requests.  runc and nginx are
exercised in tests/integration/test_deploy_e2e.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Api

from patchwarden.adapters.storage.images import SqlImageCatalog
from patchwarden.core.imagebuild import ImageRecord, ImageStatus
from patchwarden.core.semver import ImageVersion

START_HOOK = """
import os, socket, subprocess, sys, time
from pathlib import Path
state = Path(sys.argv[1]) / os.environ["PATCHWARDEN_INSTANCE"]
(state / "www").mkdir(parents=True, exist_ok=True)
(state / "www" / "index.html").write_text(os.environ["PATCHWARDEN_IMAGE_VERSION"])
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen(
    [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
     "--directory", str(state / "www")],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    start_new_session=True,
)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.05)
(state / "pid").write_text(str(server.pid))
print(f"127.0.0.1:{port} {server.pid}")
"""

STOP_HOOK = """
import os, signal
try:
    os.kill(int(os.environ["PATCHWARDEN_HANDLE"]), signal.SIGTERM)
except (ProcessLookupError, ValueError):
    pass
"""

ROUTE_HOOK = """
import sys
from pathlib import Path
with open(sys.argv[1], "a") as out:
    out.write(sys.stdin.read().replace("\\n", " ") + "\\n")
"""


@pytest.fixture(autouse=True)
def _no_instance_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a test ends with (a failure too), the instances its hooks started stop."""
    yield
    for pidfile in tmp_path.glob("instances/*/pid"):
        pid = pidfile.read_text()
        with contextlib.suppress(OSError, ValueError):
            if b"http.server" in Path(f"/proc/{pid}/cmdline").read_bytes():  # still ours
                os.kill(int(pid), signal.SIGTERM)


def _documents(tmp: Path) -> list[dict[str, Any]]:
    for name, text in (("start.py", START_HOOK), ("stop.py", STOP_HOOK), ("route.py", ROUTE_HOOK)):
        (tmp / name).write_text(text)
    py = sys.executable
    spec = {
        "imagePipelineArn": "web",
        "deploymentGroup": {
            "name": "web",
            "instances": 2,
            "deployer": {
                "type": "command",
                "start": [py, str(tmp / "start.py"), str(tmp / "instances")],
                "stop": [py, str(tmp / "stop.py")],
            },
            "trafficRouter": {
                "type": "command",
                "route": [py, str(tmp / "route.py"), str(tmp / "routes.log")],
                "endpoint": "127.0.0.1:8080",
            },
        },
        "deploymentConfig": {
            "type": "Canary",
            "timeBasedCanary": {"canaryPercentage": 50, "canaryInterval": 0.01},
        },
        "healthCheck": {"intervalSeconds": 0.2, "readyTimeoutSeconds": 10},
        "alarmConfiguration": {"maxFindings": {"CRITICAL": 0}},
    }
    return [
        {
            "apiVersion": "patchwarden/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": spec,
        }
    ]


def _image(api: Api, version: str, **changes: Any) -> None:
    now = datetime.now(UTC)
    record = ImageRecord(
        name="web",
        version=ImageVersion.parse(version),
        status=ImageStatus.AVAILABLE,
        created=now,
        updated=now,
        pipeline="web",
    )
    db = api.client.app.state.db
    with db.write() as session, session.begin():
        SqlImageCatalog(session).save(replace(record, **changes))


def _finished(api: Api, run_id: str) -> dict[str, Any]:
    for _ in range(300):  # bounded: the run is carried out on a server thread
        run: dict[str, Any] = api.ok("GET", f"/api/v1/deployment-runs/{run_id}")
        if run["status"] in ("Succeeded", "Failed", "Stopped"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {run['status']}")


def test_deployments_through_the_api(api: Api, tmp_path: Path) -> None:
    applied = api.ok("POST", "/api/v1/apply", json=_documents(tmp_path))
    assert applied["applied"] == [{"kind": "Deployment", "name": "web", "result": "created"}]
    none = api.call("POST", "/api/v1/deployments/web/start")
    assert none.status_code == 400 and "no AVAILABLE image" in none.json()["error"]["message"]

    _image(api, "1.0.0/1")
    started = api.call("POST", "/api/v1/deployments/web/start")
    assert started.status_code == 202, started.text
    first = _finished(api, started.json()["id"])
    assert first["status"] == "Succeeded", first
    assert first["image"] == "web 1.0.0/1" and first["actor"]
    listed = api.ok("GET", "/api/v1/deployments")
    assert listed[0]["group"]["image"] == "web 1.0.0/1"
    assert len(listed[0]["group"]["instances"]) == 2

    again = api.call("POST", "/api/v1/deployments/web/start")
    assert again.status_code == 200 and "already serves" in again.json()["nothing_to_do"]

    _image(api, "1.0.1/1")
    canary = api.ok("POST", "/api/v1/deployments/web/start", json={"wait": True})
    assert canary["status"] == "Succeeded" and canary["previous_image"] == "web 1.0.0/1"
    shares = [e["green_percent"] for e in canary["events"] if e["event"] == "TrafficShifted"]
    assert shares == [50, 100]
    routes = [json.loads(line) for line in (tmp_path / "routes.log").read_text().splitlines()]
    assert [len(r) for r in routes] == [2, 4, 2]  # green; blue+green at 50 %; green
    assert {r["weight"] for r in routes[1]} == {1}

    # a rollback after success redeploys the image the last run replaced
    back = api.ok("POST", "/api/v1/deployments/web/rollback")
    assert back["action"] == "redeployed" and back["run"]["image"] == "web 1.0.0/1"
    assert back["run"]["trigger"] == f"rollback of {canary['id']}"
    one = api.ok("GET", "/api/v1/deployments/web")
    assert [r["status"] for r in one["runs"]] == ["Succeeded"] * 3
    assert one["document"]["spec"]["imagePipelineArn"] == "web"

    # an image whose findings raise the alarm: stopped before anything starts
    _image(api, "1.0.2/1", findings=(("CRITICAL", 1),))
    alarmed = api.ok("POST", "/api/v1/deployments/web/start", json={"wait": True})
    assert alarmed["status"] == "Stopped" and "1 CRITICAL" in alarmed["reason"]
    assert api.ok("GET", "/api/v1/deployments")[0]["group"]["image"] == "web 1.0.0/1"

    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    for action in ("deployment.create", "deployment.start", "deployment.finish",
                   "deployment.rollback"):  # fmt: skip
        assert action in actions
    # stop every instance the test started
    for instance in one["group"]["instances"]:
        handle = instance["handle"]
        if handle:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(handle), signal.SIGTERM)


def test_bad_requests_are_4xx(api: Api, tmp_path: Path) -> None:
    documents = _documents(tmp_path)
    bad = json.loads(json.dumps(documents))
    bad[0]["spec"]["deploymentConfig"]["type"] = "Rolling"
    refused = api.call("POST", "/api/v1/apply", json=bad)
    assert (
        refused.status_code == 400 and "deploymentConfig.type" in refused.json()["error"]["message"]
    )
    assert api.call("POST", "/api/v1/deployments/nope/start").status_code == 404
    assert api.call("POST", "/api/v1/deployments/nope/rollback").status_code == 404
    assert api.call("GET", "/api/v1/deployment-runs/d-NOPE").status_code == 404
    api.ok("POST", "/api/v1/apply", json=documents)
    unknown = api.call("POST", "/api/v1/deployments/web/start", json={"imagez": "x"})
    assert unknown.status_code == 400
    viewer = api.token("viewer")
    assert api.call("POST", "/api/v1/deployments/web/start", token=viewer).status_code == 403
    assert api.call("GET", "/api/v1/deployments", token=viewer).status_code == 200
    nothing = api.call("POST", "/api/v1/deployments/web/rollback")
    assert nothing.status_code == 400 and "no earlier image" in nothing.json()["error"]["message"]
    _image(api, "1.0.0/1")
    bad_image = api.call("POST", "/api/v1/deployments/web/start", json={"image": "web:1.y.0"})
    assert bad_image.status_code == 400
    assert api.ok("DELETE", "/api/v1/deployments/web")["deleted"]
    assert api.call("GET", "/api/v1/deployments/web").status_code == 404


PIPELINE_DOCS = """
apiVersion: patchwarden/v1
kind: Component
metadata: {name: site}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {name: index, action: CreateFile, inputs: [{path: /srv/index.html, content: hi}]}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {name: web}
spec:
  semanticVersion: 1.0.0
  parentImage: {bootstrap: {suite: bookworm}}
  components: [{componentArn: site/1.x.x}]
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: web}
spec:
  imageRecipeArn: web/1.x.x
  deployment: web
"""


def test_an_image_that_passes_its_pipeline_is_promoted(api: Api, tmp_path: Path) -> None:
    import yaml
    from fleet_helpers import DEBIAN_FACTS

    from patchwarden.adapters.image.catalog import to_json

    api.ok(
        "POST", "/api/v1/apply", json=[*yaml.safe_load_all(PIPELINE_DOCS), *_documents(tmp_path)]
    )
    node = api.register(facts={**DEBIAN_FACTS, "capabilities": "image-builder"})
    api.ok("POST", "/api/v1/image-pipelines/web/start")
    (delivery,) = node.poll()
    at = datetime(2026, 12, 5, tzinfo=UTC)
    image = ImageRecord("web", ImageVersion.parse("1.0.0/1"), ImageStatus.AVAILABLE, at, at)
    body = {"invocation_id": delivery["invocation_id"], "record": to_json(image)}
    assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
    for _ in range(300):  # bounded: the promotion runs after the answer, on a server thread
        listed = api.ok("GET", "/api/v1/deployments")
        last = listed[0]["last_run"]
        if last and last["status"] in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    assert last["status"] == "Succeeded", last
    assert last["image"] == "web 1.0.0/1" and last["trigger"] == "promotion of web 1.0.0/1"
    assert last["actor"] == "scheduler"
    for instance in listed[0]["group"]["instances"]:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(instance["handle"]), signal.SIGTERM)
