"""The image builder on the server (SQLite and PostgreSQL): image documents through
``apply``, StartImagePipelineExecution handing the build to a node with the
``image-builder`` capability, the records a builder sends, images, deletion and lifecycle
policies.  The builder here is the test speaking the agent's protocol; the real agent
builds in tests/integration/test_image_fleet.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fleet_helpers import DEBIAN_FACTS, Api, FakeClock, Node
from fleet_helpers import error_of as _code_of

from patchwarden.adapters.image.catalog import to_json
from patchwarden.core.imagebuild import Distributed, ImageRecord, ImageStatus
from patchwarden.core.semver import ImageVersion

DOCS = """
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
kind: ImageRecipe
metadata: {name: app}
spec:
  semanticVersion: 2.0.0
  parentImage: web:1.x.x
  components: [{componentArn: site}]
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: web}
spec:
  imageRecipeArn: web/1.x.x
  imageScanningConfiguration: {imageScanningEnabled: true, gate: {maxFindings: {HIGH: 0}}}
  distributionConfigurationArn: registry
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: app}
spec:
  imageRecipeArn: app/2.x.x
---
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {name: registry}
spec:
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {service: OCI, registry: "127.0.0.1:9", repositoryName: fleet/web}
        tlsVerify: false
---
apiVersion: patchwarden/v1
kind: LifecyclePolicy
metadata: {name: keep-one}
spec:
  resourceSelection: {recipes: [{name: web, semanticVersion: x.x.x}]}
  policyDetails:
    - {action: {type: DEPRECATE}, filter: {type: COUNT, value: 1}}
"""


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, message), checking the error shape."""
    _code_of(response)
    return response.status_code, str(response.json()["error"]["message"])


def apply(api: Api, text: str = DOCS) -> list[dict[str, Any]]:
    applied: list[dict[str, Any]] = api.ok(
        "POST", "/api/v1/apply", json=list(yaml.safe_load_all(text))
    )["applied"]
    return applied


def builder(api: Api) -> Node:
    return api.register(facts={**DEBIAN_FACTS, "capabilities": "image-builder"})


def start(api: Api, name: str = "web", **body: Any) -> dict[str, Any]:
    started: dict[str, Any] = api.ok(
        "POST", f"/api/v1/image-pipelines/{name}/start", json=body or None
    )
    return started


def record(
    version: str, status: ImageStatus, digest: str = "", name: str = "web", **kw: Any
) -> dict[str, Any]:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 5, tzinfo=UTC)
    image = ImageRecord(name, ImageVersion.parse(version), status, at, at, digest=digest, **kw)
    return to_json(image.moved(status, at))


def test_apply_stores_image_documents_and_versions_are_immutable(api: Api) -> None:
    results = {(a["kind"], a["name"]): a["result"] for a in apply(api)}
    assert results[("ImageRecipe", "web")] == "created"
    assert results[("LifecyclePolicy", "keep-one")] == "created"
    again = {(a["kind"], a["name"]): a["result"] for a in apply(api)}
    assert set(again.values()) == {"unchanged"}
    changed = DOCS.replace("suite: bookworm", "suite: trixie")
    response = api.call("POST", "/api/v1/apply", json=list(yaml.safe_load_all(changed)))
    assert error_of(response) == (
        400,
        "ImageRecipe web 1.0.0 exists and versions are immutable: "
        "give the change a new semanticVersion",
    )
    listed = api.ok("GET", "/api/v1/image-recipes")
    assert [(r["name"], r["version"]) for r in listed] == [("app", "2.0.0"), ("web", "1.0.0")]
    one = api.ok("GET", "/api/v1/image-pipelines/web")
    assert one["documents"][0]["spec"]["imageRecipeArn"] == "web/1.x.x"
    actions = [e["action"] for e in api.ok("GET", "/api/v1/audit")]
    assert "image-recipe.create" in actions and "lifecycle-policy.create" in actions


def test_start_needs_a_builder_and_hands_the_build_to_it(api: Api) -> None:
    apply(api)
    refused = api.call("POST", "/api/v1/image-pipelines/web/start")
    assert error_of(refused)[0] == 400
    assert "no node can build images" in error_of(refused)[1]
    plain = api.register()
    node = builder(api)
    started = start(api, sourceDateEpoch=1735689600)
    assert started["node"] == node.id
    assert started["image"]["version"] == "1.0.0/1"
    assert started["image"]["status"] == "PENDING"
    assert plain.poll() == []
    (delivery,) = node.poll()
    assert delivery["document_name"] == "Patchwarden-BuildImage"
    params = delivery["parameters"]
    assert params["Version"] == "1.0.0/1" and params["SourceDateEpoch"] == 1735689600
    kinds = sorted(d["kind"] for d in params["Documents"])
    assert kinds == ["Component", "DistributionConfiguration", "ImagePipeline", "ImageRecipe"]
    assert start(api)["image"]["version"] == "1.0.0/2"  # never the same number twice
    images = api.ok("GET", "/api/v1/images", params={"name": "web"})
    assert [(i["version"], i["status"]) for i in images] == [
        ("1.0.0/1", "PENDING"),
        ("1.0.0/2", "PENDING"),
    ]
    unknown = api.call("POST", "/api/v1/image-pipelines/nope/start")
    assert error_of(unknown) == (404, "image pipeline 'nope' not found")


def test_a_builder_reports_its_image_and_only_its_own(api: Api) -> None:
    apply(api)
    node = builder(api)
    other = builder(api)
    start(api, node=node.id)
    (delivery,) = node.poll()
    body = {
        "invocation_id": delivery["invocation_id"],
        "record": record("1.0.0/1", ImageStatus.BUILDING),
    }
    assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
    assert api.ok("GET", "/api/v1/images/web/1.0.0/1")["status"] == "BUILDING"
    assert other.call("PUT", "/api/v1/agent/images", json=body).status_code == 403
    wrong = {**body, "record": record("1.0.0/7", ImageStatus.BUILDING)}
    assert error_of(node.call("PUT", "/api/v1/agent/images", json=wrong)) == (
        400,
        "record: this invocation builds web 1.0.0/1, not web 1.0.0/7",
    )
    garbage = {**body, "record": {"name": "web"}}
    assert error_of(node.call("PUT", "/api/v1/agent/images", json=garbage))[0] == 400
    pushed = Distributed("127.0.0.1:9/fleet/web", ("1.0.0-1",), "sha256:" + "a" * 64, False)
    done = record("1.0.0/1", ImageStatus.AVAILABLE, "sha256:" + "a" * 64, distributed=(pushed,))
    node.call("PUT", "/api/v1/agent/images", json={**body, "record": done})
    late = record("1.0.0/1", ImageStatus.FAILED, reason="late")
    node.call("PUT", "/api/v1/agent/images", json={**body, "record": late})
    image = api.ok("GET", "/api/v1/images/web/1.0.0/1")
    assert image["status"] == "AVAILABLE"  # an ended image stays ended
    assert node.report(delivery["invocation_id"], "Success").status_code == 200
    audit = [(e["action"], e["target"]) for e in api.ok("GET", "/api/v1/audit")]
    assert ("image.available", "web 1.0.0/1") in audit
    assert ("image-pipeline.start", "web") in audit
    # a child recipe's parent is the pushed image, fetched by digest
    start(api, "app", node=node.id)
    (child,) = node.poll()
    assert child["parameters"]["Parent"] == {
        "reference": "docker://127.0.0.1:9/fleet/web@sha256:" + "a" * 64,
        "tlsVerify": False,
        "description": "web 1.0.0/1",
        "image": ["web", "1.0.0/1"],  # optional: an older builder ignores it
    }


def test_a_parent_never_pushed_cannot_be_built_on(api: Api) -> None:
    apply(api)
    node = builder(api)
    start(api, node=node.id)
    (delivery,) = node.poll()
    body = {
        "invocation_id": delivery["invocation_id"],
        "record": record("1.0.0/1", ImageStatus.AVAILABLE, "sha256:" + "b" * 64),
    }
    node.call("PUT", "/api/v1/agent/images", json=body)
    refused = api.call("POST", "/api/v1/image-pipelines/app/start")
    assert error_of(refused) == (
        400,
        "parent image web 1.0.0/1 was never pushed to a registry, so a builder cannot fetch "
        "it: give its pipeline a distribution configuration",
    )


def test_lifecycle_run_and_delete(api: Api) -> None:
    apply(api)
    node = builder(api)
    for build in (1, 2):
        start(api, node=node.id)
        (delivery,) = node.poll()
        node.report(delivery["invocation_id"], "Success")
        body = {
            "invocation_id": delivery["invocation_id"],
            "record": record(f"1.0.0/{build}", ImageStatus.AVAILABLE, f"sha256:{build}" * 8),
        }
        assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
    dry = api.ok("POST", "/api/v1/lifecycle-policies/keep-one/run", params={"dry_run": "true"})
    assert [(a["version"], a["action"]) for a in dry["actions"]] == [("1.0.0/1", "DEPRECATE")]
    assert api.ok("GET", "/api/v1/images/web/1.0.0/1")["status"] == "AVAILABLE"
    api.ok("POST", "/api/v1/lifecycle-policies/keep-one/run")
    assert api.ok("GET", "/api/v1/images/web/1.0.0/1")["status"] == "DEPRECATED"
    viewer = api.token("viewer")
    assert api.call("DELETE", "/api/v1/images/web/1.0.0/1", viewer).status_code == 403
    deleted = api.ok("DELETE", "/api/v1/images/web/1.0.0/1")
    assert deleted["image"]["status"] == "DELETED"
    assert [i["version"] for i in api.ok("GET", "/api/v1/images")] == ["1.0.0/2"]
    assert len(api.ok("GET", "/api/v1/images", params={"all": "true"})) == 2
    again = api.call("DELETE", "/api/v1/images/web/1.0.0/1")
    assert error_of(again) == (400, "image web 1.0.0/1 is already DELETED")
    assert api.call("DELETE", "/api/v1/image-pipelines/app").status_code == 200
    assert api.call("GET", "/api/v1/image-pipelines/app").status_code == 404


def test_capabilities_follow_the_agent(api: Api) -> None:
    apply(api)
    node = api.register()
    assert error_of(api.call("POST", "/api/v1/image-pipelines/web/start"))[0] == 400
    from patchwarden.wire import content_hash

    upload = {
        "content_hash": content_hash([]),
        "items": [],
        "facts": {**DEBIAN_FACTS, "capabilities": "image-builder"},
    }
    r = node.call("PUT", "/api/v1/agent/inventory", json=upload)
    assert r.status_code < 300, r.text
    assert start(api)["node"] == node.id
    bad = node.call(
        "PUT",
        "/api/v1/agent/inventory",
        json={**upload, "facts": {**DEBIAN_FACTS, "capabilities": "Image Builder!"}},
    )
    assert bad.status_code == 400


SCHEDULED = """
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: nightly}
spec:
  imageRecipeArn: web/1.x.x
  schedule:
    scheduleExpression: cron(0 3 * * ? *)
    autoDisablePolicy: {failureCount: 2}
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {name: always}
spec:
  imageRecipeArn: web/1.x.x
  schedule:
    scheduleExpression: cron(30 3 * * ? *)
    pipelineExecutionStartCondition: EXPRESSION_MATCH_ONLY
"""


def tick(api: Api) -> dict[str, Any]:
    from patchwarden.server import images

    app = api.client.app
    done: dict[str, Any] = images.images_round(app.state.db, app.state.settings)
    return done


def finish(api: Api, node: Node, status: ImageStatus, reason: str = "") -> int:
    """The builder runs its pending builds to ``status``; how many."""
    deliveries = node.poll()
    for delivery in deliveries:
        version = delivery["parameters"]["Version"]
        body = {
            "invocation_id": delivery["invocation_id"],
            "record": record(version, status, reason=reason),
        }
        assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
        ok = status is ImageStatus.AVAILABLE
        node.report(delivery["invocation_id"], "Success" if ok else "Failed")
    return len(deliveries)


def test_schedules_start_on_a_match_and_only_for_dependency_updates(api: Api) -> None:
    apply(api)
    apply(api, SCHEDULED)
    node = builder(api)
    assert tick(api)["started"] == []  # first seen: the schedule counts from now (12:00)
    api.clock.advance(16 * 3600)  # 04:00 the next day: both matched once
    assert sorted(tick(api)["started"]) == ["always", "nightly"]
    assert finish(api, node, ImageStatus.AVAILABLE) == 2
    assert tick(api)["started"] == []  # no match since
    api.clock.advance(24 * 3600)
    assert tick(api)["started"] == ["always"]  # nightly: nothing changed
    finish(api, node, ImageStatus.AVAILABLE)
    skips = [e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "image-pipeline.skip"]
    assert skips and skips[0]["target"] == "nightly" and skips[0]["actor"] == "scheduler"
    apply(api, DOCS.split("---")[0].replace("1.0.0", "1.0.1").replace("content: hi", "content: ho"))
    api.clock.advance(24 * 3600)
    assert sorted(tick(api)["started"]) == ["always", "nightly"]  # a newer component
    delivered = {d["parameters"]["Pipeline"]: d for d in node.poll()}
    documents = delivered["nightly"]["parameters"]["Documents"]
    versions = [
        (d["kind"], d["spec"]["semanticVersion"]) for d in documents if d["kind"] == "Component"
    ]
    assert versions == [("Component", "1.0.1")]


def test_consecutive_failures_disable_a_scheduled_pipeline(api: Api) -> None:
    apply(api)
    apply(api, SCHEDULED.split("---")[0])
    node = builder(api)
    tick(api)
    for _ in range(2):
        api.clock.advance(24 * 3600)
        assert tick(api)["started"] == ["nightly"]
        finish(api, node, ImageStatus.FAILED, "build failed: component site step index (build)")
        apply(api, DOCS.split("---")[0].replace("1.0.0", f"1.0.{_ + 1}"))  # something new
    api.clock.advance(24 * 3600)
    assert tick(api)["started"] == []
    actions = [(e["action"], e["target"]) for e in api.ok("GET", "/api/v1/audit")]
    assert ("image-pipeline.disable", "nightly") in actions
    # applying it again enables it; the failures before count no more
    (result,) = apply(api, SCHEDULED.split("---")[0])
    assert result == {"kind": "ImagePipeline", "name": "nightly", "result": "enabled"}
    apply(api, DOCS.split("---")[0].replace("1.0.0", "1.0.9"))
    api.clock.advance(24 * 3600)
    assert tick(api)["started"] == ["nightly"]


def test_a_build_whose_invocation_ended_without_its_record_fails(api: Api) -> None:
    apply(api)
    node = builder(api)
    start(api)
    (delivery,) = node.poll()
    body = {"status": "Failed", "output": "agent: killed while building\nmore"}
    node.call("POST", f"/api/v1/agent/invocations/{delivery['invocation_id']}", json=body)
    assert tick(api)["swept"] == 1
    image = api.ok("GET", "/api/v1/images/web/1.0.0/1")
    assert image["status"] == "FAILED"
    assert image["reason"] == "the build's invocation ended Failed: agent: killed while building"
    assert tick(api)["swept"] == 0


def test_lifecycle_policies_run_once_a_day(api: Api) -> None:
    apply(api)
    node = builder(api)
    for _ in range(2):
        start(api)
        finish(api, node, ImageStatus.AVAILABLE)
    assert tick(api)["lifecycle"] == 1
    assert api.ok("GET", "/api/v1/images/web/1.0.0/1")["status"] == "DEPRECATED"
    start(api)
    finish(api, node, ImageStatus.AVAILABLE)
    assert tick(api)["lifecycle"] == 0  # not again the same day
    api.clock.advance(24 * 3600)
    assert tick(api)["lifecycle"] == 1
    runs = [e for e in api.ok("GET", "/api/v1/audit") if e["action"] == "lifecycle-policy.run"]
    assert [r["actor"] for r in runs] == ["scheduler", "scheduler"]


def test_cancel_a_build_not_yet_taken(api: Api) -> None:
    apply(api)
    node = builder(api)
    start(api)
    cancelled = api.ok("POST", "/api/v1/images/web/1.0.0/1/cancel")
    assert cancelled["status"] == "CANCELLED"
    assert node.poll() == []
    again = api.call("POST", "/api/v1/images/web/1.0.0/1/cancel")
    assert error_of(again) == (400, "image web 1.0.0/1 is CANCELLED: nothing to cancel")
    history = api.ok("GET", "/api/v1/images/web/1.0.0/1")["history"]
    assert [h["status"] for h in history] == ["PENDING", "CANCELLED"]


# -- staleness: triggers and rebuildOnFix ---------------------------------------------------

REBUILD = DOCS.replace(
    "  distributionConfigurationArn: registry\n",
    "  distributionConfigurationArn: registry\n"
    "  rebuildOnFix: {severity: HIGH, coolDownMinutes: 60, maxBuildsPerDay: 3}\n",
    1,
).replace("  imageRecipeArn: app/2.x.x\n", "  imageRecipeArn: app/2.x.x\n  rebuildOnFix: {}\n", 1)
ZLIB_TRACKER = {
    "zlib": {
        "CVE-2099-0002": {
            "description": "example",
            "scope": "remote",
            "releases": {
                "bookworm": {
                    "status": "resolved",
                    "fixed_version": "1:9.9.9-1",
                    "urgency": "high",
                    "repositories": {},
                }
            },
        }
    }
}
FIX = "fix for CVE-2099-0002 in zlib1g 1:9.9.9-1 (HIGH)"


@pytest.fixture
def vapi(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Api]:
    """A server whose vulnerability database is ``tmp_path/vulndb.sqlite`` (made by the
    test: :func:`import_tracker`)."""
    from fastapi.testclient import TestClient

    from patchwarden.server.app import bootstrap_admin, create_app
    from patchwarden.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=db_url,
        clock=clock,
        migrate=False,
        replica_id="test-replica",
        poll_check_interval=0.05,
        vulndb_path=tmp_path / "vulndb.sqlite",
    )
    app = create_app(settings)
    admin = bootstrap_admin(app.state.db, settings)
    assert admin is not None
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, admin, clock)


def import_tracker(api: Api, tracker: dict[str, Any]) -> None:
    """Import a Debian security tracker file into the server's database."""

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import import_path

    path: Path = api.client.app.state.settings.vulndb_path
    feed = path.with_name("tracker.json")
    feed.write_text(json.dumps(tracker))
    db = SqliteVulnDb(path)
    import_path(db, feed, FEEDS, classify, api.clock.now())
    db.close()


def build_all(api: Api, node: Node, status: ImageStatus = ImageStatus.AVAILABLE) -> list[str]:
    """The builder builds every delivered image to ``status`` (pushed, with its packages
    and OS); the Trigger parameter of each."""
    from patchwarden.core.imagebuild import ImagePackage
    from patchwarden.core.model import OsInfo

    triggers = []
    for delivery in node.poll():
        params = delivery["parameters"]
        version = params["Version"]
        (name,) = [
            d.get("spec", {}).get("name") or d["metadata"]["name"]
            for d in params["Documents"]
            if d["kind"] == "ImageRecipe"
        ]
        digest = "sha256:" + f"{len(triggers)}{version}".encode().hex().ljust(64, "0")[:64]
        pushed = Distributed(f"127.0.0.1:9/fleet/{name}", (version.replace("/", "-"),), digest)
        done = record(
            version,
            status,
            digest,
            name=name,
            distributed=(pushed,),
            packages=(ImagePackage("zlib1g", "amd64", "1:1.2.13.dfsg-1", "zlib"),),
            os_info=OsInfo("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)",
                           "debian", "DEBIAN", "Debian12"),
            trigger=params.get("Trigger", ""),
        )  # fmt: skip
        body = {"invocation_id": delivery["invocation_id"], "record": done}
        assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
        node.report(delivery["invocation_id"], "Success")
        triggers.append(params.get("Trigger", ""))
    return triggers


def skips(api: Api) -> list[str]:
    """The reasons of image-pipeline.skip entries, oldest first."""
    entries = api.ok("GET", "/api/v1/audit", params={"action": "image-pipeline.skip"})
    return [e["detail"]["reason"] for e in reversed(entries)]


def test_triggers_are_recorded_and_shown(api: Api) -> None:
    apply(api, SCHEDULED.split("---")[0] + "---" + DOCS)
    node = builder(api)
    started = start(api)
    assert started["image"]["trigger"] == "manual"
    assert build_all(api, node) == ["manual"]
    image = api.ok("GET", "/api/v1/images/web/1.0.0/1")
    assert image["trigger"] == "manual"
    assert image["packages"][0]["name"] == "zlib1g"
    (listed,) = api.ok("GET", "/api/v1/images", params={"name": "web"})
    assert listed["trigger"] == "manual" and "packages" not in listed
    tick(api)
    api.clock.advance(16 * 3600)
    assert tick(api)["started"] == ["nightly"]
    assert build_all(api, node) == ["schedule"]  # the first build of the schedule
    apply(api, DOCS.split("---")[0].replace("1.0.0", "1.0.1").replace("content: hi", "content: x"))
    api.clock.advance(24 * 3600)
    assert tick(api)["started"] == ["nightly"]
    assert build_all(api, node) == ["dependency update: component site 1.0.1"]
    assert api.ok("GET", "/api/v1/images/web/1.0.0/3")["trigger"] == (
        "dependency update: component site 1.0.1"
    )


def test_rebuild_on_fix(vapi: Api) -> None:
    api = vapi
    apply(api, REBUILD)
    node = builder(api)
    start(api)  # 12:00
    build_all(api, node)
    assert tick(api)["rebuilt"] == []  # no database yet: nothing known to fix
    import_tracker(api, ZLIB_TRACKER)
    api.clock.advance(2 * 3600)  # 14:00
    done = tick(api)
    assert done["rescanned"] == 1
    assert done["rebuilt"] == ["web"]
    stale = api.ok("GET", "/api/v1/images/web/1.0.0/1")
    assert stale["findings"] == {"HIGH": 1}
    assert [f["vulnerabilityId"] for f in stale["fixes"]] == ["CVE-2099-0002"]
    assert api.ok("GET", "/api/v1/images/web/1.0.0/2")["trigger"] == FIX
    newest = api.ok("GET", "/api/v1/audit", params={"action": "image-pipeline.start"})[0]
    assert newest["actor"] == "scheduler" and newest["detail"]["trigger"] == FIX
    # in progress: not again; the skip is audited once, not every round
    assert tick(api)["rebuilt"] == []
    assert tick(api)["rebuilt"] == []
    assert skips(api) == ["rebuild of web 1.0.0/1: a build of the pipeline is in progress"]
    assert build_all(api, node, ImageStatus.FAILED) == [FIX]  # the fix was not in the mirror yet
    # within the cool-down since the last build start: held back
    api.clock.advance(30 * 60)  # 14:30
    assert tick(api)["rebuilt"] == []
    assert skips(api)[-1] == (
        "rebuild of web 1.0.0/1: cool-down: the last build started 30 min ago "
        "(coolDownMinutes 60; 30 min left)"
    )
    api.clock.advance(31 * 60)  # 15:01
    assert tick(api)["rebuilt"] == ["web"]
    build_all(api, node, ImageStatus.FAILED)
    api.clock.advance(2 * 3600)  # 17:01: three builds today
    assert tick(api)["rebuilt"] == []
    assert skips(api)[-1] == (
        "rebuild of web 1.0.0/1: 3 builds started today (UTC) (maxBuildsPerDay 3)"
    )
    api.clock.advance(8 * 3600)  # 01:01 the next day
    assert tick(api)["rebuilt"] == ["web"]
    # the rebuild is AVAILABLE but still carries the old zlib (the mirror lags): it is not
    # rebuilt again for the reason it was built for
    assert build_all(api, node) == [FIX]
    assert api.ok("GET", "/api/v1/images/web/1.0.0/4")["trigger"] == FIX
    api.clock.advance(2 * 3600)
    assert tick(api)["rebuilt"] == []
    assert api.ok("GET", "/api/v1/images/web/1.0.0/4")["fixes"]  # rescanned: still stale


def test_a_child_image_rebuilds_after_its_parent(api: Api) -> None:
    apply(api, REBUILD)
    node = builder(api)
    start(api, "web")
    build_all(api, node)
    start(api, "app")
    build_all(api, node)
    app = api.ok("GET", "/api/v1/images/app/2.0.0/1")
    assert app["parentImage"] == {"name": "web", "version": "1.0.0/1"}
    assert tick(api)["rebuilt"] == []
    start(api, "web")  # a newer parent
    build_all(api, node)
    api.clock.advance(2 * 3600)
    assert tick(api)["rebuilt"] == ["app"]
    (delivery,) = node.poll()
    assert delivery["parameters"]["Parent"]["image"] == ["web", "1.0.0/2"]
    assert delivery["parameters"]["Trigger"] == "parent updated: web 1.0.0/2 is newer than 1.0.0/1"


def test_a_record_with_a_large_package_list_is_accepted(api: Api) -> None:
    """A record carries the image's package list: more than the default body limit."""
    from patchwarden.core.imagebuild import ImagePackage

    apply(api)
    node = builder(api)
    start(api)
    (delivery,) = node.poll()
    packages = tuple(ImagePackage(f"lib{i:04d}", "amd64", f"1.{i}-1") for i in range(2000))
    done = record("1.0.0/1", ImageStatus.AVAILABLE, "sha256:" + "e" * 64, packages=packages)
    body = {"invocation_id": delivery["invocation_id"], "record": done}
    assert node.call("PUT", "/api/v1/agent/images", json=body).status_code == 200
    assert len(api.ok("GET", "/api/v1/images/web/1.0.0/1")["packages"]) == 2000
