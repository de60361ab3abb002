"""Image pipelines on the fleet, end to end: a real server, a real agent started with
``--image-builder`` (mmdebstrap from a local mirror, components in chroot, umoci, skopeo),
a docker-registry on 127.0.0.1, and the operator's CLI (``apply``, ``pipeline start
--wait``, ``get images``).  A child image is built on the parent the first build pushed,
fetched from the registry by digest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fleet_processes import AgentProcess, Server, exe, wait_for
from image_builds import make_mirror, require_image_builds

from registry_fixture import RunningRegistry, run_registry

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def documents(mirror: Path, registry: str) -> str:
    return f"""
apiVersion: patchwarden/v1
kind: Component
metadata: {{name: site}}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {{name: index, action: CreateFile, inputs: [{{path: /srv/index.html, content: hi}}]}}
      - name: test
        steps:
          - {{name: there, action: ExecuteBash, inputs: {{commands: ["test -s /srv/index.html"]}}}}
---
apiVersion: patchwarden/v1
kind: Component
metadata: {{name: app}}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {{name: conf, action: CreateFile, inputs: [{{path: /etc/app.conf, content: "x=1"}}]}}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {{name: web}}
spec:
  semanticVersion: 1.0.0
  parentImage:
    bootstrap:
      suite: bookworm
      mirrors: ["deb [trusted=yes] copy://{mirror} bookworm main"]
  components: [{{componentArn: site/1.x.x}}]
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {{name: app}}
spec:
  semanticVersion: 2.0.0
  parentImage: web:1.x.x
  components: [{{componentArn: app}}]
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: web}}
spec:
  imageRecipeArn: web/1.x.x
  imageScanningConfiguration: {{imageScanningEnabled: true, gate: {{maxFindings: {{CRITICAL: 0}}}}}}
  distributionConfigurationArn: registry
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: app}}
spec:
  imageRecipeArn: app/2.x.x
  distributionConfigurationArn: app-registry
---
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {{name: registry}}
spec:
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {{service: OCI, registry: "{registry}", repositoryName: fleet/web}}
        containerTags: ["{{{{imagebuilder:buildVersion}}}}", latest]
        tlsVerify: false
---
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {{name: app-registry}}
spec:
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {{service: OCI, registry: "{registry}", repositoryName: fleet/app}}
        tlsVerify: false
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with run_registry(tmp_path / "registry") as running:
        yield running


def tags(registry: RunningRegistry, repository: str) -> list[str]:
    got = httpx.get(f"{registry.url}/v2/{repository}/tags/list", timeout=10)
    return [] if got.status_code == 404 else sorted(got.json().get("tags") or [])


def test_a_builder_agent_builds_tests_gates_and_pushes(
    tmp_path: Path, registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_image_builds()
    monkeypatch.setenv("PATCHWARDEN_IMAGES_INTERVAL", "1")  # rescans within a second
    mirror = tmp_path / "mirror"
    make_mirror(mirror)
    docs = tmp_path / "images.yaml"
    docs.write_text(documents(mirror, registry.address))
    root = tmp_path / "node-root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy("/usr/lib/os-release", root / "etc/os-release")
    (root / "var/lib/dpkg/status").write_text("")
    server = Server(tmp_path / "server-home", f"sqlite:///{tmp_path / 'server.db'}")
    agent = AgentProcess(tmp_path / "agent-state", tmp_path / "agent-home")
    try:
        api = server.api(server.admin_token)
        activation = api.post("/api/v1/activations", json={"registration_limit": 1}).json()
        node = agent.register(server.url, activation, root)
        tracker = tmp_path / "tracker.json"
        tracker.write_text(json.dumps({"zlib": {"CVE-2099-0002": {
            "description": "example", "scope": "remote",
            "releases": {"bookworm": {"status": "resolved", "fixed_version": "1:9.9.9-1",
                                      "urgency": "high", "repositories": {}}}}}}))  # fmt: skip
        env = {**os.environ, "PATCHWARDEN_HOME": str(agent.home)}
        subprocess.run(
            [exe(), "db", "import", str(tracker)], env=env, check=True, capture_output=True
        )
        agent.start("--image-builder")
        cli = {
            **os.environ,
            "PATCHWARDEN_SERVER": server.url,
            "PATCHWARDEN_TOKEN": server.admin_token,
        }
        applied = subprocess.run(
            [exe(), "apply", "-f", str(docs)], env=cli, capture_output=True, text=True
        )
        assert applied.returncode == 0, applied.stderr
        assert "ImageRecipe web created" in applied.stdout

        def started(pipeline: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [exe(), "pipeline", "start", pipeline, "--wait", "--wait-timeout", "600",
                 "--source-date-epoch", "1735689600"],
                env=cli, capture_output=True, text=True, timeout=900,
            )  # fmt: skip

        # the agent says it can build once its first inventory upload reaches the server
        wait_for(
            "a builder",
            lambda: (
                api.post(
                    "/api/v1/image-pipelines/web/start",
                    json={"distribute": False, "sourceDateEpoch": 1735689600},
                ).status_code
                == 201
            ),
        )
        web = started("web")
        assert web.returncode == 0, web.stdout + web.stderr + agent_log(agent)
        assert "image web 1.0.0/2 PENDING on " + node in web.stdout
        assert "AVAILABLE" in web.stdout
        image = api.get("/api/v1/images/web/1.0.0/2").json()
        assert image["status"] == "AVAILABLE"
        assert image["findings"] == {"HIGH": 1}
        assert {(s["component"], s["phase"], s["step"], s["status"]) for s in image["steps"]} >= {
            ("site", "build", "index", "Success"),
            ("site", "test", "there", "Success"),
            ("", "gate", "gate", "Success"),
        }
        assert tags(registry, "fleet/web") == ["1.0.0-2", "latest"]
        first = api.get("/api/v1/images/web/1.0.0/1").json()  # the build without distribution
        assert first["status"] == "AVAILABLE" and first["distributed"] == []
        assert first["digest"] == image["digest"]  # reproducible, on the fleet too
        # the child is built on the pushed parent, fetched by digest
        app = started("app")
        assert app.returncode == 0, app.stdout + app.stderr + agent_log(agent)
        child = api.get("/api/v1/images/app/2.0.0/1").json()
        assert child["parent"] == "web 1.0.0/2"
        assert child["parentDigest"] == image["digest"]
        assert child["parentImage"] == {"name": "web", "version": "1.0.0/2"}
        assert child["trigger"] == "manual" and child["packages"]
        assert child["labels"]["dev.patchwarden.image.parent"] == image["digest"]
        assert tags(registry, "fleet/app") == ["2.0.0-1"]
        # the server rescans pushed images when its vulnerability database changes
        assert image["lastScanned"] is None  # the server has no database yet
        server_env = {**os.environ, "PATCHWARDEN_HOME": str(server.home)}
        imported = subprocess.run(
            [exe(), "db", "import", str(tracker)], env=server_env, capture_output=True, text=True
        )
        assert imported.returncode == 0, imported.stderr
        rescanned = wait_for(
            "a rescan",
            lambda: (i := api.get("/api/v1/images/web/1.0.0/2").json())["lastScanned"] and i,
        )
        assert rescanned["findings"] == {"HIGH": 1}
        tracker.write_text(tracker.read_text().replace('"high"', '"unimportant"'))
        subprocess.run([exe(), "db", "import", str(tracker)], env=server_env, check=True)
        wait_for(
            "a rescan with the new data",
            lambda: api.get("/api/v1/images/web/1.0.0/2").json()["findings"] != {"HIGH": 1},
        )
        listed = subprocess.run([exe(), "get", "images"], env=cli, capture_output=True, text=True)
        assert listed.returncode == 0 and "app" in listed.stdout and "AVAILABLE" in listed.stdout
        # deleting removes the manifest from the registry
        gone = api.delete("/api/v1/images/app/2.0.0/1")
        assert gone.status_code == 200, gone.text
        assert tags(registry, "fleet/app") == []
        audit = [e["action"] for e in api.get("/api/v1/audit").json()]
        assert {"image-pipeline.start", "image.available", "image.delete"} <= set(audit)
    finally:
        agent.stop()
        server.stop()


def agent_log(agent: AgentProcess) -> str:
    return "".join(p.read_text() for p in sorted(agent.state_dir.glob("agent-*.log")))
