"""The image reader on images made here in Python: OCI layouts (tags, multi-platform
indexes), oci-archive and docker-archive tars, a registry behind a Bearer-token challenge
(httpx's mock transport), references, and the renderers of an image report."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchwarden.adapters.image import reference
from patchwarden.adapters.image.manifests import (
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    choose_platform,
)
from patchwarden.adapters.image.reader import OciImageReader
from patchwarden.adapters.image.reference import LocalRef, RegistryRef
from patchwarden.adapters.image.registry import Registry, load_credentials
from patchwarden.core.image import ImageContents
from patchwarden.errors import EnvironmentProblem, InputError
from patchwarden.pipeline.image_scan import assess_image

OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
STATUS = (
    b"Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\n"
    b"Source: foo\nVersion: 1.0-1\n\n"
    b"Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2.0-1\n\n"
    b"Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\n"
)


def tar_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI image layout written by hand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs/sha256").mkdir(parents=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.index: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}

    def blob(self, data: bytes) -> dict[str, Any]:
        digest = sha(data)
        (self.path / "blobs/sha256" / digest[7:]).write_bytes(data)
        self.blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    def image(self, layers: list[dict[str, bytes]], arch: str = "amd64") -> dict[str, Any]:
        config = {"architecture": arch, "os": "linux", "config": {"Labels": {"team": "x"}}}
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                **self.blob(json.dumps(config).encode()),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    **self.blob(gzip.compress(tar_bytes(files))),
                }
                for files in layers
            ],
        }
        return {"mediaType": OCI_MANIFEST, **self.blob(json.dumps(manifest).encode())}

    def tag(self, descriptor: dict[str, Any], name: str) -> None:
        self.index.append(
            {**descriptor, "annotations": {"org.opencontainers.image.ref.name": name}}
        )
        self.write()

    def write(self) -> None:
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "manifests": self.index})
        )


BASE = {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": STATUS}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    lay = Layout(tmp_path / "layout")
    lay.tag(lay.image([BASE]), "v1")
    return lay


def names(contents: ImageContents) -> list[tuple[str, str, str, str]]:
    assert contents.inventory is not None
    return [
        (p.package.name, p.package.arch, p.package.version, p.package.source_name)
        for p in contents.inventory.installed
    ]


def test_reads_a_tagged_image_of_a_layout(layout: Layout) -> None:
    contents = OciImageReader().read(f"{layout.path}:v1")
    assert names(contents) == [
        ("bar", "all", "2.0-1", "bar"),
        ("libfoo1", "amd64", "1.0-1", "foo"),
    ]
    assert contents.os.product == "Debian12"
    assert contents.facts.digest == layout.index[0]["digest"]
    assert contents.facts.labels == (("team", "x"),)
    assert contents.facts.platform == "linux/amd64"
    assert contents.facts.package_database == "dpkg"
    # the only image needs no tag
    assert names(OciImageReader().read(str(layout.path))) == names(contents)


def test_unknown_tags_and_ambiguous_layouts_are_input_errors(layout: Layout) -> None:
    with pytest.raises(InputError, match=r"no image tagged 'v9' \(tags: v1\)"):
        OciImageReader().read(f"oci:{layout.path}:v9")
    layout.tag(layout.image([BASE]), "v2")
    with pytest.raises(InputError, match="2 images in the layout"):
        OciImageReader().read(str(layout.path))


def test_missing_and_tampered_blobs(layout: Layout) -> None:
    manifest = json.loads(layout.blobs[layout.index[0]["digest"]])
    layer = layout.path / "blobs/sha256" / manifest["layers"][0]["digest"][7:]
    data = layer.read_bytes()
    layer.write_bytes(gzip.compress(tar_bytes({**BASE, "var/lib/dpkg/status": b""})))
    with pytest.raises(InputError, match="does not match its digest"):
        OciImageReader().read(f"{layout.path}:v1")
    layer.unlink()
    with pytest.raises(InputError, match="missing blob sha256:"):
        OciImageReader().read(f"{layout.path}:v1")
    layer.write_bytes(data[:-100])
    with pytest.raises(InputError, match="not a readable layer"):
        OciImageReader().read(f"{layout.path}:v1")


def test_a_multi_platform_index_picks_the_platform(layout: Layout) -> None:
    amd = layout.image([BASE])
    arm_status = STATUS.replace(b"amd64", b"arm64")
    arm = layout.image([{**BASE, "var/lib/dpkg/status": arm_status}], arch="arm64")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {**amd, "platform": {"os": "linux", "architecture": "amd64"}},
            {**arm, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    }
    layout.tag({"mediaType": OCI_INDEX, **layout.blob(json.dumps(index).encode())}, "multi")
    got = OciImageReader(platform="linux/arm64").read(f"{layout.path}:multi")
    assert got.facts.digest == arm["digest"]
    assert ("libfoo1", "arm64", "1.0-1", "foo") in names(got)
    assert (
        OciImageReader(platform="linux/amd64").read(f"{layout.path}:multi").facts.digest
        == (amd["digest"])
    )
    with pytest.raises(InputError, match=r"no image for platform linux/s390x \(offered: "):
        OciImageReader(platform="linux/s390x").read(f"{layout.path}:multi")
    with pytest.raises(InputError, match="the image is linux/amd64, not linux/arm64"):
        OciImageReader(platform="linux/arm64").read(f"{layout.path}:v1")


def test_later_layers_change_the_packages(layout: Layout) -> None:
    status2 = STATUS.split(b"\n\n")[0] + b"\n"
    top = layout.image(
        [
            BASE,
            {"var/lib/dpkg/.wh.status": b"", "var/lib/dpkg/status.d/bar": STATUS.split(b"\n\n")[1]},
        ]
    )
    layout.tag(top, "v2")
    assert names(OciImageReader().read(f"{layout.path}:v2")) == [("bar", "all", "2.0-1", "bar")]
    layout.tag(layout.image([BASE, {"var/lib/dpkg/status": status2}]), "v3")
    assert names(OciImageReader().read(f"{layout.path}:v3")) == [
        ("libfoo1", "amd64", "1.0-1", "foo")
    ]


def test_images_without_packages_or_os(layout: Layout) -> None:
    layout.tag(layout.image([{"etc/os-release": OS_RELEASE}]), "scratch")
    with pytest.raises(InputError, match="no OS package database"):
        OciImageReader().read(f"{layout.path}:scratch")
    layout.tag(layout.image([{"var/lib/dpkg/status": STATUS}]), "noos")
    with pytest.raises(InputError, match="no etc/os-release"):
        OciImageReader().read(f"{layout.path}:noos")
    alpine = b'ID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME="Alpine Linux v3.20"\n'
    apk = b"C:Q1x\nP:musl\nV:1.2.5-r0\n\nC:Q1y\nP:busybox\nV:1.36.1-r29\n"
    layout.tag(layout.image([{"etc/os-release": alpine, "lib/apk/db/installed": apk}]), "apk")
    got = OciImageReader().read(f"{layout.path}:apk")
    assert got.inventory is not None and got.facts.package_count == 2
    assert got.facts.package_database == "apk" and got.inventory.scheme == "apk"
    assert got.os.id == "alpine" and got.os.version_id == "3.20.0"
    assert [(i.package.name, i.package.version) for i in got.inventory.installed] == [
        ("busybox", "1.36.1-r29"),
        ("musl", "1.2.5-r0"),
    ]
    assert got.warnings == ()
    layout.tag(
        layout.image([{"etc/os-release": alpine, "lib/apk/db/installed": b"P:musl\nbroken\n"}]),
        "badapk",
    )
    with pytest.raises(InputError, match=r"/lib/apk/db/installed:2: not a 'K:value' line"):
        OciImageReader().read(f"{layout.path}:badapk")


def _oci_archive(layout: Layout, dest: Path) -> Path:
    with tarfile.open(dest, "w") as tar:
        for item in sorted(layout.path.rglob("*")):
            tar.add(item, arcname=str(item.relative_to(layout.path)), recursive=False)
    return dest


def test_oci_archive_and_docker_archive(layout: Layout, tmp_path: Path) -> None:
    expected = names(OciImageReader().read(f"{layout.path}:v1"))
    archive = _oci_archive(layout, tmp_path / "img.tar")
    for ref in (str(archive), f"{archive}:v1", f"oci-archive:{archive}:v1"):
        got = OciImageReader().read(ref)
        assert names(got) == expected
        assert got.facts.digest == layout.index[0]["digest"]
    manifest = json.loads(layout.blobs[layout.index[0]["digest"]])
    config = layout.blobs[manifest["config"]["digest"]]
    layer = layout.blobs[manifest["layers"][0]["digest"]]
    docker = tmp_path / "docker.tar"
    entry = [{"Config": "cfg.json", "RepoTags": ["app:1"], "Layers": ["abc/layer.tar"]}]
    docker.write_bytes(
        tar_bytes(
            {
                "manifest.json": json.dumps(entry).encode(),
                "cfg.json": config,
                "abc/layer.tar": gzip.decompress(layer),
            }
        )
    )
    for ref in (str(docker), f"docker-archive:{docker}", f"docker-archive:{docker}:app:1"):
        got = OciImageReader().read(ref)
        assert names(got) == expected
        assert got.facts.digest == sha(config)  # the image id
    with pytest.raises(InputError, match="no image tagged 'app:2'"):
        OciImageReader().read(f"docker-archive:{docker}:app:2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker://127.0.0.1:5000/fleet/app:1", RegistryRef("127.0.0.1:5000", "fleet/app", "1")),
        ("docker://localhost/app", RegistryRef("localhost", "app", "latest")),
        ("docker://debian:12", RegistryRef(reference.DOCKER_HUB, "library/debian", "12")),
        (
            "docker://ghcr.io/o/r@sha256:" + "a" * 64,
            RegistryRef("ghcr.io", "o/r", "sha256:" + "a" * 64),
        ),
    ],
)
def test_registry_references(text: str, expected: RegistryRef) -> None:
    assert reference.parse(text) == expected


def test_bad_references() -> None:
    for text in ("", "docker://h.io/UPPER:1", "/no/such/dir", "oci:/no/such:tag"):
        with pytest.raises(InputError):
            reference.parse(text)


def test_local_references(layout: Layout) -> None:
    assert reference.parse(f"{layout.path}:v1") == LocalRef("oci", str(layout.path), "v1")
    assert reference.parse(str(layout.path)) == LocalRef("oci", str(layout.path), "")


def test_platform_choice() -> None:
    entries = [
        Descriptor(OCI_MANIFEST, "sha256:1", platform="linux/amd64"),
        Descriptor(OCI_MANIFEST, "sha256:2", platform="linux/arm/v7"),
        Descriptor(OCI_MANIFEST, "sha256:3", platform="unknown/unknown"),
    ]
    assert choose_platform(entries, "linux/arm/v7", "r").digest == "sha256:2"
    assert choose_platform(entries, "linux/arm", "r").digest == "sha256:2"
    with pytest.raises(InputError, match="offered: linux/amd64, linux/arm/v7"):
        choose_platform(entries, "linux/riscv64", "r")


# -- a registry behind a token service (httpx mock transport) ---------------------------------


class FakeRegistry:
    """Registry API v2 with Bearer tokens, an index and a redirect to blob storage."""

    def __init__(self, layout: Layout, *, user: str | None = None) -> None:
        self.layout = layout
        self.user = user
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.requests.append(f"{request.method} {url.path}")
        if url.host == "auth.test":
            if self.user and request.headers.get("Authorization") != _basic(self.user):
                return httpx.Response(401)
            assert url.params["scope"] == "repository:fleet/app:pull"
            return httpx.Response(200, json={"token": "T0K"})
        if url.host == "storage.test":
            return httpx.Response(200, content=self.layout.blobs[url.path.rsplit("/", 1)[1]])
        if request.headers.get("Authorization") != "Bearer T0K":
            challenge = 'Bearer realm="https://auth.test/token",service="reg.test"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        kind, ref = url.path.split("/")[-2:]
        if kind == "manifests":
            tag = {
                d["annotations"]["org.opencontainers.image.ref.name"]: d for d in self.layout.index
            }
            digest = tag[ref]["digest"] if ref in tag else ref
            if digest not in self.layout.blobs:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            body = self.layout.blobs[digest]
            kind_ = json.loads(body).get("mediaType", OCI_MANIFEST)
            assert OCI_MANIFEST in request.headers["Accept"]
            return httpx.Response(
                200, content=body, headers={"Content-Type": kind_, "Docker-Content-Digest": digest}
            )
        return httpx.Response(307, headers={"Location": f"https://storage.test/b/{ref}"})


def _basic(user: str) -> str:
    import base64

    return "Basic " + base64.b64encode(user.encode()).decode()


def _registry_reader(
    monkeypatch: pytest.MonkeyPatch, fake: FakeRegistry, **kwargs: Any
) -> OciImageReader:
    from patchwarden.adapters.image import reader as reader_module

    class Mocked(Registry):
        def __init__(self, ref: RegistryRef, **kw: Any) -> None:
            super().__init__(ref, transport=httpx.MockTransport(fake), **kw)

    monkeypatch.setattr(reader_module, "Registry", Mocked)
    return OciImageReader(**kwargs)


def test_registry_with_a_bearer_token_and_an_index(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    arm = layout.image([BASE], arch="arm64")
    amd = layout.index[0]
    index = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            {**arm, "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": amd["digest"], "size": amd["size"],
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }  # fmt: skip
    layout.tag({"mediaType": DOCKER_LIST, **layout.blob(json.dumps(index).encode())}, "multi")
    fake = FakeRegistry(layout)
    reader = _registry_reader(monkeypatch, fake, platform="linux/amd64")
    got = reader.read("docker://reg.test/fleet/app:multi")
    assert got.facts.digest == amd["digest"]
    assert names(got) == names(OciImageReader().read(f"{layout.path}:v1"))
    assert "GET /token" in fake.requests  # one token, then reused
    assert fake.requests.count("GET /token") == 1
    with pytest.raises(InputError, match="no such manifest"):
        reader.read("docker://reg.test/fleet/app:nope")


def test_registry_credentials(
    layout: Layout, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeRegistry(layout, user="ci:s3cret")
    with pytest.raises(InputError, match="refused anonymous access"):
        _registry_reader(monkeypatch, fake).read("docker://reg.test/fleet/app:v1")
    creds = tmp_path / "auth.json"
    auth = {"auths": {"reg.test": {"auth": _basic("ci:s3cret").split()[1]}}}
    creds.write_text(json.dumps(auth))
    got = _registry_reader(monkeypatch, fake, creds_file=creds).read(
        "docker://reg.test/fleet/app:v1"
    )
    assert got.facts.digest == layout.index[0]["digest"]
    assert load_credentials(creds, "reg.test") == ("ci", "s3cret")
    plain = tmp_path / "plain"
    plain.write_text("ci:s3cret\n")
    assert load_credentials(plain, "other") == ("ci", "s3cret")


def test_an_unreachable_registry_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match=r"cannot reach registry 127\.0\.0\.1:9"):
        OciImageReader().read("docker://127.0.0.1:9/fleet/app:1")


# -- the report of an image: every format names the image ---------------------------------


class _Store:
    def __init__(self, advisories: list[Any]) -> None:
        self._advisories = advisories

    def advisories(self, ecosystem: str, packages: Any) -> list[Any]:
        wanted = set(packages)
        return [a for a in self._advisories if a.ecosystem == ecosystem and a.package in wanted]

    def feeds(self) -> list[Any]:
        return []


def test_the_report_of_an_image_in_every_format(layout: Layout) -> None:
    import jsonschema
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from patchwarden.core.vuln import Advisory, AdvisoryStatus
    from patchwarden.render import RENDERERS
    from patchwarden.render.sarif import SCHEMA_PATH
    from patchwarden.render.table import render as table

    ref = f"{layout.path}:v1"
    contents = OciImageReader().read(ref)
    store = _Store(
        [Advisory("CVE-2026-1001", "osv", "Debian:12", "foo", AdvisoryStatus.FIXED, "1.0-2")]
    )
    report = assess_image(contents, datetime(2026, 1, 1, tzinfo=UTC), store=store)
    assert [(f.vulnerability_id, f.package_name) for f in report.vulnerabilities or ()] == [
        ("CVE-2026-1001", "libfoo1")
    ]
    data = json.loads(RENDERERS["json"](report))
    assert data["resource"] == {
        "type": "image",
        "name": ref,
        "id": contents.facts.digest,
        "platform": "linux/amd64",
        "labels": {"team": "x"},
        "package_database": "dpkg",
        "packages": 2,
    }
    assert data["patches"] == [] and data["vulnerabilities"][0]["package_name"] == "libfoo1"
    sarif = json.loads(RENDERERS["sarif"](report))
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    run = sarif["runs"][0]
    assert run["properties"]["resource"]["id"] == contents.facts.digest
    assert run["automationDetails"]["id"] == f"patchwarden/image/{ref}/"
    cdx_text = RENDERERS["cyclonedx"](report)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx_text) is None
    cdx = json.loads(cdx_text)
    subject = cdx["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == (
        "container",
        ref,
        contents.facts.digest,
    )
    assert sorted(c["name"] for c in cdx["components"]) == ["bar", "debian", "libfoo1"]
    text = table(report, width=200)
    assert f"image {ref} (Debian12, linux/amd64) {contents.facts.digest}: 2 dpkg packages" in text
    assert "libfoo1:amd64" in text and "CVE-2026-1001" in text and "COMPLIANT" not in text
    # no install for an image: the next command is the same scan, one row per finding
    assert text.rstrip().splitlines()[-1] == (
        f"next: patchwarden image scan {ref} --by cve  (every finding, one row each)"
    )
    flat = table(report, width=200, by="cve")
    assert "CVE-2026-1001" in flat and "next: rebuild the image" in flat


def test_a_host_report_has_no_resource() -> None:
    from patchwarden.core.model import Compliance, ComplianceSummary, Operation, OsInfo
    from patchwarden.core.report import NodeFacts, Report
    from patchwarden.render.json import report_dict

    os_info = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
    report = Report(
        NodeFacts("h", "/", os_info),
        "b",
        Operation.SCAN,
        datetime(2026, 1, 1, tzinfo=UTC),
        (),
        ComplianceSummary(Compliance.COMPLIANT, None),
    )
    assert "resource" not in report_dict(report)


def test_centos_7_images_get_their_point_release() -> None:
    from patchwarden.adapters.image.layers import LayerFiles, apply_layer
    from patchwarden.adapters.image.packages import image_os

    files = LayerFiles()
    centos = b'NAME="CentOS Linux"\nID="centos"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7"\n'
    layer = tar_bytes(
        {
            "etc/os-release": centos,
            "etc/centos-release": b"CentOS Linux release 7.9.2009 (Core)\n",
        }
    )
    apply_layer(files, io.BytesIO(layer), "l")
    assert image_os(files, "r").product == "CentOS7.9"


def test_suppressions_name_the_image_by_reference_or_digest(layout: Layout) -> None:
    from patchwarden.core.suppression import Suppression
    from patchwarden.core.vuln import Advisory, AdvisoryStatus, FindingStatus

    ref = f"{layout.path}:v1"
    contents = OciImageReader().read(ref)
    store = _Store(
        [Advisory("CVE-2026-1001", "osv", "Debian:12", "foo", AdvisoryStatus.FIXED, "1.0-2")]
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for node in (contents.facts.digest, ref, "sha256:other"):
        rule = Suppression("accepted", "base image risk accepted", nodes=(node,))
        report = assess_image(contents, now, store=store, suppressions=[rule])
        statuses = {f.status for f in report.vulnerabilities or ()}
        expected = FindingStatus.ACTIVE if node == "sha256:other" else FindingStatus.SUPPRESSED
        assert statuses == {expected}
