"""The console's images and deployments pages over HTTP (SQLite and PostgreSQL): the image
records arrive from a builder node and the deployments run through the server's API, as in
test_server_images.py and test_server_deployments.py; the pages must show the API's
statuses, findings, staleness (the server's own judge), ancestry and runs.  Starting a
pipeline from the page is the API's start (same build, same audit record); a viewer and a
form without its CSRF token are refused."""

from __future__ import annotations

import contextlib
import html as htmlmod
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from console_helpers import csrf, metric, signed_in
from fleet_helpers import Api, Node
from test_server_deployments import _documents, _finished, _image, _no_instance_left
from test_server_images import apply, builder, record, start

from patchwarden.core.imagebuild import Distributed, ImageFix, ImageStatus
from patchwarden.core.vuln import Severity

__all__ = ["_no_instance_left"]  # its instances stop after each test here too

DIGEST = "sha256:" + "a" * 64


def _build(api: Api, node: Node, pipeline: str, status: ImageStatus, **kw: Any) -> str:
    """Start ``pipeline`` and let the builder end its image in ``status``; its version."""
    start(api, pipeline, node=node.id)
    (delivery,) = node.poll()
    version = str(delivery["parameters"]["Version"])
    name = "app" if pipeline == "app" else "web"
    body = {
        "invocation_id": delivery["invocation_id"],
        "record": record(version, status, name=name, **kw),
    }
    assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
    node.report(
        delivery["invocation_id"], "Success" if status is ImageStatus.AVAILABLE else "Failed"
    )
    return version


def _pushed(version: str) -> tuple[Distributed, ...]:
    tag = version.replace("/", "-")
    return (Distributed("127.0.0.1:9/fleet/web", (tag,), DIGEST, False),)


def _text(fragment: str) -> str:
    return " ".join(htmlmod.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _cell(page: str, attribute: str, value: str, end: str = "td|span|p|dd") -> str:
    """The text of the element whose ``attribute`` is ``value`` (up to the first closing
    tag of ``end``)."""
    found = re.search(rf'{attribute}="{re.escape(value)}"[^>]*>(.*?)</({end})>', page, re.S)
    assert found, f"{attribute}={value}"
    return _text(found.group(1))


def _fleet_of_images(api: Api) -> Node:
    """web 1.0.0/1 (AVAILABLE, findings, a fix), app 2.0.0/1 on it, web 1.0.0/2 (so the
    app image is stale by its parent), web 1.0.0/3 FAILED."""
    apply(api)
    node = builder(api)
    fix = ImageFix("CVE-2099-0002", "zlib1g", "1:1.2.13", "1:9.9.9-1", Severity.HIGH)
    _build(
        api, node, "web", ImageStatus.AVAILABLE, digest=DIGEST, distributed=_pushed("1.0.0/1"),
        findings=(("HIGH", 1), ("LOW", 2)), fixes=(fix,), package_count=123,
        labels=(("org.example.team", "platform"),),
    )  # fmt: skip
    _build(
        api, node, "app", ImageStatus.AVAILABLE, digest="sha256:" + "c" * 64,
        parent="web 1.0.0/1", parent_image=("web", "1.0.0/1"),
    )  # fmt: skip
    _build(api, node, "web", ImageStatus.AVAILABLE, digest="sha256:" + "b" * 64,
           distributed=_pushed("1.0.0/2"))  # fmt: skip
    _build(api, node, "web", ImageStatus.FAILED)
    return node


def _server_stale(api: Api, name: str, version: str) -> list[str]:
    """What the server's deployments say makes the image stale."""
    from patchwarden.adapters.storage.images import SqlImageCatalog
    from patchwarden.server.deployments import Deployments

    state = api.client.app.state
    with state.db.read() as session:
        found = SqlImageCatalog(session).get(name, version)
    assert found is not None
    return Deployments(state.db, state.settings).stale(found)


def test_the_images_page_shows_the_apis_images(api: Api) -> None:
    _fleet_of_images(api)
    client = signed_in(api)
    page = client.get("/images").text
    images = api.ok("GET", "/api/v1/images")
    assert len(images) == 4
    for image in images:
        key = f"{image['name']} {image['version']}"
        assert _cell(page, "data-status", key).startswith(image["status"])
        for severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW"):
            expected = image["findings"].get(severity, 0)
            assert metric(page, f"findings {key} {severity}") == expected
        stale = _cell(page, "data-stale", key)
        if image["status"] != "AVAILABLE":
            assert stale == "—"
            continue
        reasons = _server_stale(api, image["name"], image["version"])
        assert stale == ("Stale " + " ".join(reasons) if reasons else "No")
    assert _server_stale(api, "app", "2.0.0/1") == [
        "parent updated: web 1.0.0/2 is newer than 1.0.0/1"
    ]
    assert "fix for CVE-2099-0002" in _cell(page, "data-stale", "web 1.0.0/1")
    assert metric(page, "images web") == 3 and metric(page, "images app") == 1
    assert _cell(page, "data-schedule", "web").startswith("none")
    assert 'href="/images/app/2.0.0/1"' in page


def test_an_image_page_shows_its_record_ancestry_and_staleness(api: Api) -> None:
    _fleet_of_images(api)
    client = signed_in(api)
    described = api.ok("GET", "/api/v1/images/web/1.0.0/1")
    page = client.get("/images/web/1.0.0/1").text
    assert _cell(page, "data-status", "web 1.0.0/1") == described["status"] == "AVAILABLE"
    assert metric(page, "packages") == described["packageCount"] == 123
    for severity, count in described["findings"].items():
        assert metric(page, f"findings {severity}") == count
    assert described["digest"] in page and "CVE-2099-0002" in page and "1:9.9.9-1" in page
    assert "org.example.team" in page and described["trigger"] == "manual"
    assert re.findall(r"data-history>(\w+)<", page) == [h["status"] for h in described["history"]]
    # ancestry: web 1.0.0/1 is a root (bootstrap) and app 2.0.0/1 was built on it
    assert 'data-ancestry="app 2.0.0/1"' in page and "(this image)" in page
    child = client.get("/images/app/2.0.0/1").text
    assert re.search(r'data-parent><a href="/images/web/1.0.0/1">', child)
    assert 'data-ancestry="web 1.0.0/1"' in child
    assert 'data-ancestry="web 1.0.0/2"' not in child  # not of its lineage
    assert "parent updated: web 1.0.0/2 is newer than 1.0.0/1" in _cell(
        child, "data-stale", "app 2.0.0/1", "div"
    )
    failed = client.get("/images/web/1.0.0/3").text
    assert _cell(failed, "data-status", "web 1.0.0/3") == "FAILED"
    assert re.findall(r"data-history>(\w+)<", failed)[-1] == "FAILED"
    missing = client.get("/images/web/9.9.9/1")
    assert missing.status_code == 404 and "no image web 9.9.9/1" in missing.text


def test_an_operator_starts_a_pipeline_from_the_page(api: Api) -> None:
    apply(api)
    node = builder(api)
    viewer = signed_in(api, "viewer")
    page = viewer.get("/images").text
    assert "Start pipeline" not in page
    refused = viewer.post(
        "/images/pipelines/web/start", data={"csrf": csrf(page)}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert api.ok("GET", "/api/v1/images") == []

    operator = signed_in(api, "operator")
    page = operator.get("/images").text
    assert 'action="/images/pipelines/web/start"' in page and "Start pipeline web" in page
    no_token = operator.post("/images/pipelines/web/start", data={}, follow_redirects=False)
    assert no_token.status_code == 403 and "security token" in no_token.text
    done = operator.post(
        "/images/pipelines/web/start", data={"csrf": csrf(page)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/images?done=")
    (image,) = api.ok("GET", "/api/v1/images")
    assert (image["name"], image["version"], image["status"]) == ("web", "1.0.0/1", "PENDING")
    assert image["trigger"] == "manual"
    (delivery,) = node.poll()
    assert delivery["parameters"]["Version"] == "1.0.0/1"
    audit = [(e["action"], e["actor"], e["target"]) for e in api.ok("GET", "/api/v1/audit")]
    assert ("image-pipeline.start", "token:t-operator", "web") in audit
    shown = operator.get(done.headers["location"]).text
    assert re.search(r'class="notice" role="status">pipeline web started: web 1.0.0/1', shown)
    assert _cell(shown, "data-status", "web 1.0.0/1") == "PENDING"
    # refused by the use case: the page says why (400), nothing is started
    parentless = operator.post(
        "/images/pipelines/app/start", data={"csrf": csrf(page)}, follow_redirects=False
    )
    assert parentless.status_code == 400 and 'role="alert"' in parentless.text
    assert "parent image web:1.x.x: no AVAILABLE image matches" in _text(parentless.text)
    assert len(api.ok("GET", "/api/v1/images")) == 1
    unknown = operator.post(
        "/images/pipelines/nope/start", data={"csrf": csrf(page)}, follow_redirects=False
    )
    assert unknown.status_code == 404 and "image pipeline &#39;nope&#39; not found" in unknown.text


def test_deployments_pages_show_the_runs(api: Api, tmp_path: Path) -> None:
    api.ok("POST", "/api/v1/apply", json=_documents(tmp_path))
    client = signed_in(api)
    empty = client.get("/deployments").text
    assert "never run" in empty and 'data-refresh="5"' not in empty
    _image(api, "1.0.0/1")
    run = api.ok("POST", "/api/v1/deployments/web/start", json={"wait": True})
    assert run["status"] == "Succeeded"
    try:
        listed = api.ok("GET", "/api/v1/deployments")
        page = client.get("/deployments").text
        assert _cell(page, "data-serving", "web") == listed[0]["serving"] == "web 1.0.0/1"
        assert metric(page, "instances web") == listed[0]["instances"] == 2
        assert _cell(page, "data-last-status", "web") == "Succeeded"
        one = client.get("/deployments/web").text
        described = api.ok("GET", f"/api/v1/deployment-runs/{run['id']}")
        events = re.findall(rf'data-event="{run["id"]}">(\w+)<', one)
        assert events == [e["event"] for e in described["events"]] and events
        assert _cell(one, "data-run-status", run["id"]) == "Succeeded"
        assert metric(one, "runs") == 1 and 'id="run-' + run["id"] + '"' in one
        assert 'data-refresh="5"' not in one  # nothing in progress
        image = client.get("/images/web/1.0.0/1").text
        assert f'data-run="{run["id"]}"' in image and 'data-serves="web"' in image
        assert client.get("/deployments/nope").status_code == 404
    finally:
        for instance in api.ok("GET", "/api/v1/deployments")[0]["group"]["instances"]:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(instance["handle"]), signal.SIGTERM)


GATE_HOOK = """
import os, sys, time
from pathlib import Path
for _ in range(600):  # bounded: the test opens the gate
    if Path(sys.argv[1]).exists():
        break
    time.sleep(0.05)
os.execv(sys.argv[2], sys.argv[2:])
"""


def test_a_run_in_progress_refreshes_itself(api: Api, tmp_path: Path) -> None:
    documents = _documents(tmp_path)
    gate = tmp_path / "gate"
    (tmp_path / "gate.py").write_text(GATE_HOOK)
    deployer = documents[0]["spec"]["deploymentGroup"]["deployer"]
    deployer["start"] = [sys.executable, str(tmp_path / "gate.py"), str(gate), *deployer["start"]]
    api.ok("POST", "/api/v1/apply", json=documents)
    _image(api, "1.0.0/1")
    client = signed_in(api)
    started = api.call("POST", "/api/v1/deployments/web/start")
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    try:
        page = client.get("/deployments/web").text
        status = api.ok("GET", f"/api/v1/deployment-runs/{run_id}")["status"]
        assert status in ("Created", "InProgress")
        assert _cell(page, "data-run-status", run_id) in ("Created", "InProgress")
        assert 'id="deployment-live" aria-labelledby="d-now" data-refresh="5"' in page
        assert 'data-refresh="5"' in client.get("/deployments").text
    finally:
        gate.write_text("open")
        assert _finished(api, run_id)["status"] == "Succeeded"
        for instance in api.ok("GET", "/api/v1/deployments")[0]["group"]["instances"]:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(instance["handle"]), signal.SIGTERM)
    assert 'data-refresh="5"' not in client.get("/deployments/web").text
