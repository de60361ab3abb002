"""``patchwarden image build`` for real: mmdebstrap from a local ``copy://`` mirror made of the
apt cache's .debs (no network), components in chroot, umoci, skopeo to a docker-registry on
127.0.0.1, the scan gate against an imported vulnerability database, and lifecycle
policies.  Each build takes 10-30 s: the module shares one mirror, one registry and one
image store, and its tests run in order."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_builds import make_mirror, require_image_builds

from registry_fixture import RunningRegistry, run_registry

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPOCH = "1735689600"
CLI = [sys.executable, "-m", "patchwarden"]

TRACKER = {
    "zlib": {
        "CVE-2099-0002": {
            "description": "example: a zlib flaw",
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


def _documents(mirror: Path, registry: str) -> str:
    """A component, two recipe versions and three pipelines (lenient, strict, failing test)."""
    return f"""
apiVersion: patchwarden/v1
kind: Component
metadata: {{name: site}}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    parameters:
      - greeting: {{type: string, default: hello}}
    phases:
      - name: build
        steps:
          - {{name: dir, action: CreateFolder, inputs: [{{path: /srv/www}}]}}
          - name: index
            action: ExecuteBash
            inputs: {{commands: ["echo '{{{{ greeting }}}}' > /srv/www/index.html"]}}
      - name: validate
        steps:
          - name: present
            action: ExecuteBash
            inputs: {{commands: ["test -s /srv/www/index.html"]}}
      - name: test
        steps:
          - name: greets
            action: ExecuteBash
            inputs: {{commands: ["grep -q '{{{{ greeting }}}}' /srv/www/index.html"]}}
---
apiVersion: patchwarden/v1
kind: Component
metadata: {{name: broken-test}}
spec:
  semanticVersion: 1.0.0
  data:
    schemaVersion: 1.0
    phases:
      - name: test
        steps:
          - {{name: absent, action: ExecuteBash, inputs: {{commands: ["test -e /no/such/file"]}}}}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {{name: web-1.0.0}}
spec:
  name: web
  semanticVersion: 1.0.0
  parentImage:
    bootstrap:
      suite: bookworm
      mirrors: ["deb [trusted=yes] copy://{mirror} bookworm main"]
      variant: minbase
  components: [{{componentArn: site/1.x.x}}]
  labels: {{org.example.team: platform}}
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {{name: web-1.1.0}}
spec:
  name: web
  semanticVersion: 1.1.0
  parentImage:
    bootstrap:
      suite: bookworm
      mirrors: ["deb [trusted=yes] copy://{mirror} bookworm main"]
  components:
    - componentArn: site/1.x.x
      parameters: [{{name: greeting, value: [bonjour]}}]
---
apiVersion: patchwarden/v1
kind: ImageRecipe
metadata: {{name: untestable}}
spec:
  semanticVersion: 1.0.0
  parentImage: web:1.x.x
  components: [{{componentArn: broken-test}}]
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: lenient}}
spec:
  imageRecipeArn: web/1.0.0
  imageScanningConfiguration: {{imageScanningEnabled: true, gate: {{maxFindings: {{CRITICAL: 0}}}}}}
  distributionConfigurationArn: lenient
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: lenient-next}}
spec:
  imageRecipeArn: web/1.1.x
  imageScanningConfiguration: {{imageScanningEnabled: true, gate: {{maxFindings: {{CRITICAL: 0}}}}}}
  distributionConfigurationArn: lenient
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: strict}}
spec:
  imageRecipeArn: web/1.0.0
  imageScanningConfiguration: {{imageScanningEnabled: true, gate: {{maxFindings: {{HIGH: 0}}}}}}
  distributionConfigurationArn: strict
---
apiVersion: patchwarden/v1
kind: ImagePipeline
metadata: {{name: untestable}}
spec:
  imageRecipeArn: untestable
  distributionConfigurationArn: strict
---
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {{name: lenient}}
spec:
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {{service: OCI, registry: "{registry}", repositoryName: fleet/web}}
        containerTags: ["{{{{imagebuilder:buildVersion}}}}", latest]
        tlsVerify: false
---
apiVersion: patchwarden/v1
kind: DistributionConfiguration
metadata: {{name: strict}}
spec:
  distributions:
    - containerDistributionConfiguration:
        targetRepository: {{service: OCI, registry: "{registry}", repositoryName: fleet/strict}}
        tlsVerify: false
"""


class Env:
    def __init__(self, base: Path, registry: RunningRegistry) -> None:
        self.base = base
        self.registry = registry
        self.home = base / "home"
        self.docs = base / "docs"
        self.env = {**os.environ, "PATCHWARDEN_HOME": str(self.home), "COLUMNS": "200"}
        self.env.pop("SOURCE_DATE_EPOCH", None)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, env=self.env, timeout=600
        )

    def build(self, *args: str) -> tuple[int, dict[str, object], str]:
        done = self.run("image", "build", str(self.docs), "-q", "-f", "json",
                        "--source-date-epoch", EPOCH, *args)  # fmt: skip
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout), done.stderr

    def tags(self, repository: str) -> list[str]:
        import httpx

        got = httpx.get(f"{self.registry.url}/v2/{repository}/tags/list", timeout=10)
        if got.status_code == 404:
            return []
        return sorted(got.json().get("tags") or [])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_image_builds()
    base = tmp_path_factory.mktemp("image-build")
    mirror = base / "mirror"
    make_mirror(mirror)
    with run_registry(base / "registry") as registry:
        e = Env(base, registry)
        e.docs.mkdir()
        (e.docs / "images.yaml").write_text(_documents(mirror, registry.address))
        tracker = base / "tracker.json"
        tracker.write_text(json.dumps(TRACKER))
        imported = e.run("db", "import", str(tracker))
        assert imported.returncode == 0, imported.stderr
        yield e
    shutil.rmtree(e.home / "images", ignore_errors=True)


def _build_tests_scans_and_pushes(env: Env) -> None:
    code, image, err = env.build("--pipeline", "lenient")
    assert code == 0, err
    assert image["status"] == "AVAILABLE" and image["version"] == "1.0.0/1"
    steps = {(s["component"], s["phase"], s["step"]): s["status"] for s in image["steps"]}
    assert steps[("site", "build", "index")] == "Success"
    assert steps[("site", "test", "greets")] == "Success"
    assert steps[("", "gate", "gate")] == "Success"
    assert image["findings"] == {"HIGH": 1}  # zlib1g: below the CRITICAL-only gate
    assert env.tags("fleet/web") == ["1.0.0-1", "latest"]
    inspected = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{env.registry.address}/fleet/web:latest"],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    assert inspected["Digest"] == image["digest"]
    labels = inspected["Labels"]
    assert labels["dev.patchwarden.image.recipe"] == "web/1.0.0"
    assert labels["dev.patchwarden.image.packages"] == image["packageDigest"]
    assert labels["org.example.team"] == "platform"
    assert inspected["Created"] == "2025-01-01T00:00:00Z"
    # the component's file is in the image, as the test phase saw it
    bundle = env.base / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{image['layout']}:{image['tag']}", str(bundle)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (bundle / "rootfs/srv/www/index.html").read_text() == "hello\n"
    assert not list((bundle / "rootfs/var/cache/apt/archives").glob("*.deb"))
    # image scan differential: the packages read from the layer == dpkg-query on the rootfs
    from patchwarden.adapters.image.reader import OciImageReader

    contents = OciImageReader().read(f"oci:{image['layout']}:{image['tag']}")
    assert contents.inventory is not None
    found = sorted(
        f"{p.name}:{p.arch}={p.version}" for p in (i.package for i in contents.inventory.installed)
    )
    query = subprocess.run(
        ["dpkg-query", f"--admindir={bundle}/rootfs/var/lib/dpkg", "-W",
         "-f=${db:Status-Status} ${Package}:${Architecture}=${Version}\n"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    expected = sorted(
        line.split(" ", 1)[1] for line in query.splitlines() if line.startswith("installed ")
    )
    assert found == expected and len(found) == image["packageCount"]
    # the record keeps the package list (name, arch, version, source) and why it was built
    recorded = sorted(f"{p['name']}:{p['arch']}={p['version']}" for p in image["packages"])
    assert recorded == expected
    assert image["os"]["codename"] == "bookworm"
    assert image["trigger"] == "manual"
    shutil.rmtree(bundle)


def _same_inputs_give_the_same_digest(env: Env) -> None:
    first = env.run("image", "describe", "web", "1.0.0/1", "-f", "json")
    code, again, err = env.build("--recipe", "web:1.0.0", "--no-distribute")
    assert code == 0, err
    assert again["version"] == "1.0.0/2"
    assert again["digest"] == json.loads(first.stdout)["digest"]
    assert again["distributed"] == []


def _a_finding_above_the_gate_fails_the_build_and_nothing_is_pushed(env: Env) -> None:
    code, image, _ = env.build("--pipeline", "strict")
    assert code == 1
    assert image["status"] == "FAILED"
    assert image["reason"].startswith(
        "scan gate: 1 HIGH finding (at most 0 allowed): CVE-2099-0002"
    )
    assert image["distributed"] == []
    assert env.tags("fleet/strict") == []
    history = [h["status"] for h in image["history"]]
    assert history == ["PENDING", "BUILDING", "TESTING", "FAILED"]


def _a_failing_test_phase_fails_the_build(env: Env) -> None:
    code, image, _ = env.build("--pipeline", "untestable")
    assert code == 1
    assert image["status"] == "FAILED"
    assert image["reason"].startswith("test failed: component broken-test step absent (test)")
    assert image["parent"].startswith("web 1.0.0/")
    assert env.tags("fleet/strict") == []


def _lifecycle_deletes_by_count_and_keeps_retain_at_least(env: Env) -> None:
    code, newer, err = env.build("--recipe", "web:1.1.0", "--no-distribute")
    assert code == 0, err
    # a push of 1.1.0 too, with its own digest (another greeting)
    code, pushed, err = env.build("--pipeline", "lenient-next")
    assert code == 0, err
    assert pushed["digest"] == newer["digest"]
    policies = env.docs / "lifecycle"
    policies.mkdir()
    (policies / "keep.yaml").write_text(
        """
apiVersion: patchwarden/v1
kind: LifecyclePolicy
metadata: {name: keep-two}
spec:
  resourceType: CONTAINER_IMAGE
  resourceSelection: {recipes: [{name: web, semanticVersion: x.x.x}]}
  policyDetails:
    - action: {type: DELETE}
      filter: {type: COUNT, value: 2}
"""
    )
    listed = env.run("image", "list", "web", "-f", "json")
    before = {i["version"]: i["status"] for i in json.loads(listed.stdout)}
    assert before == {
        "1.0.0/1": "AVAILABLE", "1.0.0/2": "AVAILABLE", "1.0.0/3": "FAILED",
        "1.1.0/1": "AVAILABLE", "1.1.0/2": "AVAILABLE",
    }  # fmt: skip
    done = env.run("image", "lifecycle", str(policies))
    assert done.returncode == 0, done.stderr
    after = {
        i["version"]: i
        for i in json.loads(env.run("image", "list", "web", "--all", "-f", "json").stdout)
    }
    assert {v: i["status"] for v, i in after.items()} == {
        "1.0.0/1": "DELETED", "1.0.0/2": "DELETED", "1.0.0/3": "FAILED",
        "1.1.0/1": "AVAILABLE", "1.1.0/2": "AVAILABLE",
    }  # fmt: skip
    # 1.0.0's manifest left the registry with its tags; 1.1.0's stays
    assert env.tags("fleet/web") == ["1.1.0-2", "latest"]
    assert "lifecycle policy keep-two" in after["1.0.0/1"]["history"][-1]["reason"]
    # AGE with retainAtLeast: everything is "old" a year from now, the newest one stays
    (policies / "keep.yaml").write_text(
        """
apiVersion: patchwarden/v1
kind: LifecyclePolicy
metadata: {name: age}
spec:
  resourceSelection: {recipes: [{name: web, semanticVersion: 1.x.x}]}
  policyDetails:
    - action: {type: DEPRECATE}
      filter: {type: AGE, value: 1, unit: DAYS, retainAtLeast: 1}
"""
    )
    future = {**env.env, "PATCHWARDEN_NOW": "2099-01-01T00:00:00+00:00"}
    done = subprocess.run(
        [*CLI, "image", "lifecycle", str(policies)], capture_output=True, text=True, env=future
    )
    assert done.returncode == 0, done.stderr
    statuses = {
        i["version"]: i["status"]
        for i in json.loads(env.run("image", "list", "web", "-f", "json").stdout)
    }
    assert statuses == {"1.0.0/3": "FAILED", "1.1.0/1": "DEPRECATED", "1.1.0/2": "AVAILABLE"}


def _a_deprecated_parent_is_refused_unless_forced(env: Env) -> None:
    # web 1.1.0/1 is DEPRECATED now; untestable's parent web:1.x.x resolves to 1.1.0/2 (AVAILABLE)
    env.run("image", "delete", "web", "1.1.0/2", "--keep-registries")
    refused = env.run("image", "build", str(env.docs), "--recipe", "untestable", "--no-tests")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "patchwarden: error: parent image web 1.1.0/1 is DEPRECATED: refused as a parent "
        "(build with --force-parent to use it anyway)"
    )
    code, image, err = env.build("--recipe", "untestable", "--no-tests", "--force-parent")
    assert code == 0, err
    assert image["parent"] == "web 1.1.0/1"
    assert image["parentImage"] == {"name": "web", "version": "1.1.0/1"}
    tree = env.run("image", "tree", "untestable", "--documents", str(env.docs), "-f", "json")
    assert tree.returncode == 0, tree.stderr
    roots = json.loads(tree.stdout)  # the bootstrap, and the parents deleted since
    (root,) = [r for r in roots if r["parent"].startswith("bootstrap bookworm")]
    (web,) = [i for i in root["images"] if i["version"] == "1.1.0/1"]
    assert [c["name"] for c in web["children"]] == ["untestable"]


def test_build_gate_push_reproduce_lifecycle(env: Env) -> None:
    """The steps build on each other's images (one image store, in order), so they run as
    one test: pytest-xdist would otherwise spread them over workers with stores of their
    own."""
    _build_tests_scans_and_pushes(env)
    _same_inputs_give_the_same_digest(env)
    _a_finding_above_the_gate_fails_the_build_and_nothing_is_pushed(env)
    _a_failing_test_phase_fails_the_build(env)
    _lifecycle_deletes_by_count_and_keeps_retain_at_least(env)
    _a_deprecated_parent_is_refused_unless_forced(env)
