"""Pushing an OCI layout to a real ``docker-registry`` on 127.0.0.1 with ``skopeo``
(:mod:`patchwarden.adapters.image.push`), and the registry's tags, digests and deletion
through :class:`~patchwarden.adapters.image.registry.Registry`.

What distribution 2.8.2 does, as asserted here: ``DELETE /v2/<repo>/manifests/<digest>``
removes the manifest *and every tag pointing at it* from ``tags/list`` (tags of other
digests stay); once a repository has no tag left, ``tags/list`` answers ``"tags": null``
(read as ``[]``); an unknown repository is ``404 NAME_UNKNOWN`` (also ``[]``).  A registry
without ``storage.delete.enabled`` answers ``405 UNSUPPORTED``.

The layout is built with ``umoci`` from a small tar (the host's ``etc/os-release`` and
``var/lib/dpkg/status``).  The tests at the end need no tool: fakes of the runner and of
the registry's HTTP transport.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest

from patchwarden.adapters.image.manifests import OCI_MANIFEST, digest_of
from patchwarden.adapters.image.push import PushResult, oci_digest, push
from patchwarden.adapters.image.reference import RegistryRef
from patchwarden.adapters.image.registry import Registry
from patchwarden.adapters.runner import FakeRunner
from patchwarden.errors import EnvironmentProblem, InputError
from patchwarden.ports import RunResult
from registry_fixture import (  # noqa: F401  (pytest fixture)
    RunningRegistry,
    free_port,
    oci_registry_fixture,
    run_registry,
)

pytestmark = pytest.mark.integration

REPO = "fleet/test"
TAGS = ["1.0.0-1", "latest"]


@pytest.fixture
def image_tools() -> None:
    missing = [t for t in ("umoci", "skopeo") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing image tools: {', '.join(missing)} (run `make test`)")


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done


@pytest.fixture
def layout(image_tools: None, tmp_path: Path) -> Path:
    """An OCI layout with tag ``1.0.0-1``: one layer of etc/os-release and the dpkg status."""
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        for name in ("etc/os-release", "var/lib/dpkg/status"):
            host = Path("/") / name
            data = host.read_bytes() if host.is_file() else b"ID=debian\n"
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1735689600
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "layout"
    run(["umoci", "init", "--layout", str(path)])
    run(["umoci", "new", "--image", f"{path}:1.0.0-1"])
    run(["umoci", "raw", "add-layer", "--image", f"{path}:1.0.0-1", str(layer)])
    return path


def registry_of(reg: RunningRegistry, repository: str = REPO) -> Registry:
    return Registry(RegistryRef(reg.address, repository, "latest"), tls_verify=False)


def inspect_digest(address: str, tag: str) -> str:
    out = run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{address}/{REPO}:{tag}"]
    ).stdout
    return str(json.loads(out)["Digest"])


def test_push_tags_digests_and_delete(layout: Path, oci_registry: RunningRegistry) -> None:
    result = push(layout, "1.0.0-1", f"{oci_registry.address}/{REPO}", tags=TAGS, tls_verify=False)
    want = oci_digest(layout, "1.0.0-1")
    assert result == PushResult(f"{oci_registry.address}/{REPO}", tuple(TAGS), want)
    assert inspect_digest(oci_registry.address, "latest") == want  # --preserve-digests
    assert inspect_digest(oci_registry.address, "1.0.0-1") == want

    # a second image (another config, so another manifest digest) under its own tag
    run(
        [
            "umoci",
            "config",
            "--image",
            f"{layout}:1.0.0-1",
            "--config.label",
            "v=2",
            "--tag",
            "2.0.0-1",
        ]
    )
    other = push(
        layout,
        "2.0.0-1",
        f"docker://{oci_registry.address}/{REPO}",
        tags=["2.0.0-1"],
        tls_verify=False,
    ).digest
    assert other == oci_digest(layout, "2.0.0-1") != want

    registry = registry_of(oci_registry)
    try:
        assert sorted(registry.tags()) == ["1.0.0-1", "2.0.0-1", "latest"]
        assert registry.digest_of("latest") == want
        assert registry.digest_of("2.0.0-1") == other
        assert registry.digest_of("9.9.9") is None

        assert registry.delete_tag("1.0.0-1") == want
        # Registry API v2 deletes the manifest: "latest" (same digest) went with it
        assert sorted(registry.tags()) == ["2.0.0-1"]
        assert registry.digest_of("1.0.0-1") is None
        assert registry.digest_of("latest") is None
        assert registry.delete_tag("1.0.0-1") is None  # an unknown tag
        assert registry.delete_tag("latest") is None

        assert registry.delete_tag("2.0.0-1") == other
        assert registry.tags() == []  # distribution 2.8.2: "tags": null
    finally:
        registry.close()
    unknown = registry_of(oci_registry, "fleet/never-pushed")
    try:
        assert unknown.tags() == []  # 404 NAME_UNKNOWN
        assert unknown.digest_of("latest") is None
        assert unknown.delete_tag("latest") is None
    finally:
        unknown.close()


def test_push_where_nothing_listens(layout: Path, tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    secret = "s3cret-Pa55"
    port = free_port()
    token = base64.b64encode(f"ci:{secret}".encode()).decode()
    auth.write_text(json.dumps({"auths": {f"127.0.0.1:{port}": {"auth": token}}}))
    with pytest.raises(EnvironmentProblem) as caught:
        push(
            layout,
            "1.0.0-1",
            f"127.0.0.1:{port}/{REPO}",
            tags=TAGS,
            tls_verify=False,
            credentials_file=str(auth),
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"skopeo copy to docker://127.0.0.1:{port}/{REPO}:1.0.0-1 failed:")
    assert "connection refused" in message
    assert secret not in message and token not in message


def test_delete_refused_by_the_registry(
    layout: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with run_registry(tmp_path_factory.mktemp("no-delete"), delete=False) as reg:
        digest = push(
            layout, "1.0.0-1", f"{reg.address}/{REPO}", tags=TAGS, tls_verify=False
        ).digest
        registry = registry_of(reg)
        try:
            with pytest.raises(EnvironmentProblem) as caught:
                registry.delete_tag("latest")
            message = str(caught.value)
            assert "\n" not in message
            assert "HTTP 405" in message
            assert "storage: delete: enabled: true" in message
            assert registry.digest_of("latest") == digest  # nothing was deleted
            assert sorted(registry.tags()) == TAGS
        finally:
            registry.close()


def test_push_checks_its_input(layout: Path) -> None:
    with pytest.raises(InputError, match="no tag 'nope'"):
        push(layout, "nope", "127.0.0.1:9/fleet/test", tags=["1"])
    with pytest.raises(InputError, match="at least one tag"):
        push(layout, "1.0.0-1", "127.0.0.1:9/fleet/test", tags=[])
    with pytest.raises(InputError, match="not a valid tag"):
        push(layout, "1.0.0-1", "127.0.0.1:9/fleet/test", tags=["-bad"])
    with pytest.raises(InputError, match="without a tag"):
        push(layout, "1.0.0-1", "127.0.0.1:9/fleet/test:1", tags=["1"])
    with pytest.raises(InputError, match="not a valid registry reference"):
        push(layout, "1.0.0-1", "127.0.0.1:9/Fleet", tags=["1"])


# -- without tools: a fake runner and a fake registry --------------------------------------


def fake_layout(path: Path, tags: dict[str, str]) -> Path:
    path.mkdir()
    manifests = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": 1,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
        for tag, digest in tags.items()
    ]
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return path


DIGEST = "sha256:" + "ab" * 32


def test_oci_digest_reads_index_json(tmp_path: Path) -> None:
    path = fake_layout(tmp_path / "l", {"1": DIGEST})
    assert oci_digest(path, "1") == DIGEST
    with pytest.raises(InputError, match="no tag '2'"):
        oci_digest(path, "2")
    with pytest.raises(InputError, match=r"no index\.json"):
        oci_digest(tmp_path, "1")
    (path / "index.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        oci_digest(path, "1")


def test_push_argv_and_digest_per_tag(tmp_path: Path) -> None:
    path = fake_layout(tmp_path / "l", {"1": DIGEST})

    def skopeo(argv: tuple[str, ...]) -> RunResult:
        Path(argv[argv.index("--digestfile") + 1]).write_text(DIGEST + "\n")
        return RunResult(argv, 0, "", "")

    runner = FakeRunner(skopeo)
    got = push(
        path,
        "1",
        "reg.example:5000/fleet/a",
        tags=["1", "latest", "1"],
        tls_verify=False,
        credentials_file=str(tmp_path / "l/index.json"),
        runner=runner,
    )
    assert got == PushResult("reg.example:5000/fleet/a", ("1", "latest"), DIGEST)
    assert [c[-1] for c in runner.calls] == [
        "docker://reg.example:5000/fleet/a:1",
        "docker://reg.example:5000/fleet/a:latest",
    ]
    first = runner.calls[0]
    assert first[:3] == ("skopeo", "copy", "--preserve-digests")
    assert "--dest-tls-verify=false" in first
    assert first[first.index("--dest-authfile") + 1] == str(tmp_path / "l/index.json")
    assert first[-2] == f"oci:{path.resolve()}:1"


def test_push_failures_are_one_line_without_credentials(tmp_path: Path) -> None:
    path = fake_layout(tmp_path / "l", {"1": DIGEST})
    auth = tmp_path / "auth.json"
    token = base64.b64encode(b"ci:hunter22").decode()
    auth.write_text(json.dumps({"auths": {"reg.example": {"auth": token}}}))
    stderr = (
        "Getting image source signatures\n"
        'time="2026-01-01T00:00:00Z" level=fatal msg="writing to https://ci:hunter22@reg.example'
        f'/v2/: Authorization: Basic {token} refused: \\"denied\\""\n'
    )
    runner = FakeRunner(lambda argv: RunResult(argv, 1, "", stderr))
    with pytest.raises(EnvironmentProblem) as caught:
        push(
            path, "1", "reg.example/fleet/a", tags=["1"], credentials_file=str(auth), runner=runner
        )
    message = str(caught.value)
    assert message == (
        "skopeo copy to docker://reg.example/fleet/a:1 failed: writing to "
        'https://***@reg.example/v2/: Authorization: Basic *** refused: "denied"'
    )

    def missing(argv: tuple[str, ...]) -> RunResult:
        raise EnvironmentProblem("skopeo: command not found")

    with pytest.raises(EnvironmentProblem, match=r"^skopeo: command not found \(apt-get install"):
        push(path, "1", "reg.example/fleet/a", tags=["1"], runner=FakeRunner(missing))


def test_registry_tags_pages_digest_without_header_and_405() -> None:
    manifest = b'{"schemaVersion":2}'
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url)))
        path = request.url.path
        if path == "/v2/fleet/a/tags/list":
            if request.url.params.get("last") == "b":
                return httpx.Response(200, json={"name": "fleet/a", "tags": ["c"]})
            link = '</v2/fleet/a/tags/list?last=b&n=2>; rel="next"'
            return httpx.Response(
                200, json={"name": "fleet/a", "tags": ["a", "b"]}, headers={"Link": link}
            )
        if path == "/v2/fleet/a/manifests/a":
            return httpx.Response(200, content=b"" if request.method == "HEAD" else manifest)
        if path == f"/v2/fleet/a/manifests/{digest_of(manifest)}":
            assert request.method == "DELETE"
            body = {"errors": [{"code": "UNSUPPORTED"}]}
            return httpx.Response(405, json=body)
        return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})

    registry = Registry(
        RegistryRef("reg.example", "fleet/a", "a"), transport=httpx.MockTransport(handle)
    )
    try:
        assert registry.tags() == ["a", "b", "c"]
        assert registry.digest_of("a") == digest_of(manifest)
        assert registry.digest_of("zz") is None
        with pytest.raises(EnvironmentProblem, match="REGISTRY_STORAGE_DELETE_ENABLED=true"):
            registry.delete_tag("a")
    finally:
        registry.close()
    assert ("HEAD", "https://reg.example/v2/fleet/a/manifests/a") in seen
