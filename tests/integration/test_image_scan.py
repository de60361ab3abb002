"""``patchwarden image scan`` on images built here with real tools (loopback only).

A sandbox root with real .debs installed by dpkg (:mod:`sandbox`) becomes an OCI image with
``umoci``: ``v1`` is one layer holding the root; ``v2`` adds a layer in which real dpkg
purged ``bar`` (its files become whiteouts, the status database changes).  The scan's
packages are checked against ``dpkg-query`` on ``umoci unpack`` of the same image (a
differential test), and its findings against ``patchwarden scan --root --vulns`` of the
root it was made from; ``skopeo`` turns it into oci-archive and docker-archive tars and
pushes it (and a two-platform index) to a real ``docker-registry`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rpm_sandbox import (  # noqa: F401  (pytest fixtures)
    DBPATH,
    RpmNodeFactory,
    host_rpm_untouched_fixture,
    make_rpm_node_fixture,
    rpm_ready_fixture,
    rpm_repo_fixture,
)
from sandbox import Cli, NodeFactory, Repo, SandboxNode, run
from test_vulns_scan import _feed_dir, _import_feeds, rows

from patchwarden.adapters.image.reader import OciImageReader
from patchwarden.core.image import ImageContents

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOOLS = ("umoci", "skopeo", "docker-registry", "dpkg-query")
LABEL = "org.example.golden=yes"


@pytest.fixture(scope="module")
def image_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing image tools: {', '.join(missing)} (run `make test`)")


def umoci(*args: str | Path) -> None:
    run(["umoci", *(str(a) for a in args)])


def skopeo(*args: str | Path) -> None:
    run(["skopeo", "--insecure-policy", *(str(a) for a in args)])


def oci_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def pack(layout: Path, tag: str, root: Path, work: Path, *, base: str | None = None) -> None:
    """Tag ``tag`` of ``layout``: ``base`` (or a new empty image) plus one layer making its
    root filesystem equal to ``root`` (``umoci unpack``, copy, ``umoci repack``)."""
    bundle = work / f"bundle-{tag}"
    if base is None:
        umoci("new", "--image", f"{layout}:{tag}")
        umoci("unpack", "--image", f"{layout}:{tag}", bundle)
    else:
        umoci("unpack", "--image", f"{layout}:{base}", bundle)
    if root != bundle / "rootfs":
        run(["cp", "-a", f"{root}/.", str(bundle / "rootfs")])
    umoci("repack", "--image", f"{layout}:{tag}", bundle)
    umoci(
        "config", "--image", f"{layout}:{tag}", "--config.label", LABEL,
        "--os", "linux", "--architecture", oci_arch(),
    )  # fmt: skip
    shutil.rmtree(bundle)


def manifest_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(m["digest"])
    raise AssertionError(f"no tag {tag} in {layout}")


def blob(layout: Path, digest: str) -> Path:
    return layout / "blobs/sha256" / digest.removeprefix("sha256:")


def layers_of(layout: Path, tag: str) -> list[str]:
    manifest = json.loads(blob(layout, manifest_digest(layout, tag)).read_text())
    return [str(x["digest"]) for x in manifest["layers"]]


Row = tuple[str, str, str, str, str]


def dpkg_query(admindir: Path) -> set[Row]:
    """(name, arch, version, source, source version) of what dpkg records (not ``un``)."""
    fmt = "${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n"  # noqa: E501
    out = run(["dpkg-query", f"--admindir={admindir}", "-W", "-f", fmt]).stdout
    found = set()
    for line in out.splitlines():
        *fields, status = line.split("\t")
        if not status.startswith("u"):
            found.add((fields[0], fields[1], fields[2], fields[3], fields[4]))
    return found


def unpacked_dpkg(layout: Path, tag: str, work: Path) -> set[Row]:
    bundle = work / f"unpacked-{tag}"
    umoci("unpack", "--image", f"{layout}:{tag}", bundle)
    try:
        return dpkg_query(bundle / "rootfs/var/lib/dpkg")
    finally:
        shutil.rmtree(bundle)


def package_rows(contents: ImageContents) -> set[Row]:
    assert contents.inventory is not None
    return {
        (p.name, p.arch, p.version, p.source_name, p.source_version)
        for p in (ip.package for ip in contents.inventory.installed)
    }


@dataclass(frozen=True)
class Golden:
    """The images of this module."""

    node: SandboxNode
    layout: Path
    work: Path


@pytest.fixture(scope="module")
def golden(image_tools: None, deb_repo: Repo, tmp_path_factory: pytest.TempPathFactory) -> Golden:
    base = tmp_path_factory.mktemp("images")
    node = NodeFactory(base / "nodes", deb_repo)(name="golden")
    layout = base / "layout"
    umoci("init", "--layout", layout)
    pack(layout, "v1", node.root, base)
    # v2: real dpkg purges bar in the unpacked v1; umoci repack writes the difference
    bundle = base / "bundle-v2"
    umoci("unpack", "--image", f"{layout}:v1", bundle)
    run(["dpkg", f"--root={bundle / 'rootfs'}", "--purge", "bar"])
    umoci("repack", "--image", f"{layout}:v2", bundle)
    shutil.rmtree(bundle)
    return Golden(node, layout, base)


def test_the_scan_lists_what_dpkg_query_lists_on_the_unpacked_image(golden: Golden) -> None:
    layout = golden.layout
    v1, v2 = layers_of(layout, "v1"), layers_of(layout, "v2")
    assert len(v2) == len(v1) + 1 >= 2
    with tarfile.open(blob(layout, v2[-1])) as top:
        names = top.getnames()
    assert "usr/share/.wh.bar" in names, names  # dpkg removed bar's files: a whiteout
    assert any(n.endswith("var/lib/dpkg/status") for n in names)
    for tag in ("v1", "v2"):
        contents = OciImageReader().read(f"{layout}:{tag}")
        assert package_rows(contents) == unpacked_dpkg(layout, tag, golden.work)
        assert contents.facts.digest == manifest_digest(layout, tag)
        assert ("org.example.golden", "yes") in contents.facts.labels
        assert contents.os.product == "Debian12"
    v2_names = {r[0] for r in package_rows(OciImageReader().read(f"{layout}:v2"))}
    assert "bar" not in v2_names and {"libfoo1", "calm", "baz"} <= v2_names
    # the binNMU's source version comes from its Source field, as dpkg-query says
    assert ("calm", "all", "1.0-1+b1", "calm", "1.0-1") in package_rows(
        OciImageReader().read(f"{layout}:v2")
    )


def test_oci_archive_and_docker_archive_give_the_same_inventory(golden: Golden) -> None:
    layout, work = golden.layout, golden.work
    expected = package_rows(OciImageReader().read(f"{layout}:v2"))
    oci_tar = work / "golden-oci.tar"
    docker_tar = work / "golden-docker.tar"
    skopeo("copy", f"oci:{layout}:v2", f"oci-archive:{oci_tar}:v2")
    skopeo("copy", f"oci:{layout}:v2", f"docker-archive:{docker_tar}:golden/app:v2")
    for ref in (str(oci_tar), f"oci-archive:{oci_tar}:v2"):
        got = OciImageReader().read(ref)
        assert package_rows(got) == expected
        assert got.facts.digest == manifest_digest(layout, "v2")
    for ref in (str(docker_tar), f"docker-archive:{docker_tar}:golden/app:v2"):
        got = OciImageReader().read(ref)
        assert package_rows(got) == expected
        assert got.facts.digest.startswith("sha256:")
        assert got.facts.package_database == "dpkg"


# -- a real registry on 127.0.0.1 -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(image_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a private ``docker-registry`` (plain HTTP, no auth)."""
    base = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = base / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {base / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = (base / "registry.log").open("wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "docker-registry did not start: " + (base / "registry.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _multi_platform(layout: Path) -> tuple[str, str]:
    """Tag ``multi``: an index of v2 (this host's arch) and an arm64/s390x twin; returns the
    digests of (v2, twin)."""
    other = "s390x" if oci_arch() == "arm64" else "arm64"
    umoci("config", "--image", f"{layout}:v2", "--architecture", other, "--tag", "twin")
    entries = []
    for tag, arch in (("v2", oci_arch()), ("twin", other)):
        digest = manifest_digest(layout, tag)
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": blob(layout, digest).stat().st_size,
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    import hashlib

    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    blob(layout, digest).write_bytes(body)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest,
            "size": len(body),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))
    return manifest_digest(layout, "v2"), manifest_digest(layout, "twin")


def test_a_registry_round_trip(golden: Golden, registry: str, pw: Cli) -> None:
    layout = golden.layout
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{layout}:v2", f"docker://{registry}/golden/app:v2"
    )
    ref = f"docker://{registry}/golden/app:v2"
    got = OciImageReader(tls_verify=False).read(ref)
    assert package_rows(got) == package_rows(OciImageReader().read(f"{layout}:v2"))
    assert got.facts.digest == manifest_digest(layout, "v2")  # skopeo kept the OCI manifest
    by_digest = OciImageReader(tls_verify=False).read(
        f"docker://{registry}/golden/app@{got.facts.digest}"
    )
    assert package_rows(by_digest) == package_rows(got)
    # a two-platform index, pushed whole: --platform chooses
    v2, twin = _multi_platform(layout)
    skopeo(
        "copy", "--all", "--dest-tls-verify=false",
        f"oci:{layout}:multi", f"docker://{registry}/golden/app:multi",
    )  # fmt: skip
    multi = f"docker://{registry}/golden/app:multi"
    assert OciImageReader(tls_verify=False).read(multi).facts.digest == v2  # this host's
    other = "linux/s390x" if oci_arch() == "arm64" else "linux/arm64"
    assert OciImageReader(tls_verify=False, platform=other).read(multi).facts.digest == twin
    assert OciImageReader(platform=other).read(f"{layout}:multi").facts.digest == twin
    # the command line: TLS is checked unless told otherwise
    refused = pw("image", "scan", ref, "-f", "json")
    assert refused.returncode == 3, str(refused)
    assert "--no-tls-verify" in refused.stderr and len(refused.stderr.splitlines()) == 1
    unknown = pw("image", "scan", "--no-tls-verify", f"docker://{registry}/golden/app:v9")
    assert unknown.returncode == 2, str(unknown)
    assert "no such manifest" in unknown.stderr and "Traceback" not in unknown.stderr


# -- vulnerabilities --------------------------------------------------------------------------


def test_findings_equal_the_host_scans_and_fail_on_gates(
    golden: Golden, pw: Cli, tmp_path: Path
) -> None:
    _import_feeds(pw, _feed_dir(tmp_path))
    host = pw("scan", "--root", golden.node.root, "--vulns", "-f", "json")
    assert host.returncode == 0, str(host)
    image = pw("image", "scan", f"{golden.layout}:v1", "-f", "json")
    assert image.returncode == 0, str(image)
    report = image.json()
    assert rows(report) == rows(host.json())
    assert ("CVE-2026-1001", "libfoo1") in rows(report)
    assert report["resource"]["type"] == "image"
    assert report["resource"]["id"] == manifest_digest(golden.layout, "v1")
    assert report["resource"]["name"] == f"{golden.layout}:v1"
    # v2 purged bar: its findings are gone
    later = rows(pw("image", "scan", f"{golden.layout}:v2", "-f", "json").json())
    assert {k for k in rows(report) if k[1] == "bar"} and not {k for k in later if k[1] == "bar"}
    gate = pw("image", "scan", f"{golden.layout}:v2", "--fail-on", "critical")
    assert gate.returncode == 1, str(gate)
    assert "ACTIVE finding" in gate.stderr and "--fail-on critical" in gate.stderr
    assert f"image {golden.layout}:v2" in gate.stdout
    unfixed = pw("image", "scan", f"{golden.layout}:v1", "-f", "json", "--ignore-unfixed")
    assert all(f["fixed_version"] for f in unfixed.json()["vulnerabilities"])
    for fmt in ("sarif", "cyclonedx"):
        out = pw("image", "scan", f"{golden.layout}:v2", "-f", fmt)
        assert out.returncode == 0, str(out)
        assert manifest_digest(golden.layout, "v2") in out.stdout


def test_without_a_database_an_image_scan_says_so(golden: Golden, pw: Cli) -> None:
    result = pw("image", "scan", f"{golden.layout}:v1")
    assert result.returncode == 3
    assert "no vulnerability database" in result.stderr


# -- distroless and rpm images ----------------------------------------------------------------


def test_a_distroless_image_with_status_d(golden: Golden, tmp_path: Path) -> None:
    """distroless keeps one status file per package in ``var/lib/dpkg/status.d``."""
    layout = golden.work / "distroless-layout"
    umoci("init", "--layout", layout)
    paragraphs = golden.node.status_path.read_text().strip().split("\n\n")
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        for path in (golden.node.root / "etc/os-release",):
            tar.add(path, arcname="etc/os-release")
        for text in paragraphs:
            name = text.split("\n", 1)[0].removeprefix("Package: ")
            for arcname, body in (
                (f"var/lib/dpkg/status.d/{name}", text + "\n"),
                (f"var/lib/dpkg/status.d/{name}.md5sums", "0" * 32 + "  usr/x\n"),
            ):
                data = body.encode()
                info = tarfile.TarInfo(arcname)
                info.size = len(data)
                import io

                tar.addfile(info, io.BytesIO(data))
    umoci("new", "--image", f"{layout}:nonroot")
    umoci("raw", "add-layer", "--image", f"{layout}:nonroot", layer)
    got = OciImageReader().read(f"{layout}:nonroot")
    assert package_rows(got) == dpkg_query(golden.node.root / "var/lib/dpkg")
    assert got.facts.package_count == len(paragraphs)


@pytest.fixture
def rpm_node_factory(make_rpm_node: RpmNodeFactory) -> RpmNodeFactory:
    return make_rpm_node


def test_an_rpm_image(image_tools: None, rpm_node_factory: RpmNodeFactory, tmp_path: Path) -> None:
    node = rpm_node_factory(name="al2023-image")
    layout = tmp_path / "rpm-layout"
    umoci("init", "--layout", layout)
    pack(layout, "al", node.root, tmp_path)
    got = OciImageReader().read(f"{layout}:al")
    qf = "%{NAME}\\t%{ARCH}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"
    bundle = tmp_path / "unpacked"
    umoci("unpack", "--image", f"{layout}:al", bundle)
    out = run(["rpm", "--root", str(bundle / "rootfs"), "--dbpath", DBPATH, "-qa", "--qf", qf])
    expected = set()
    for line in out.stdout.splitlines():
        name, arch, evr = line.split("\t")
        expected.add((name, arch, evr.removeprefix("0:")))
    assert got.inventory is not None and got.facts.package_database == "rpm"
    assert {
        (p.package.name, p.package.arch, p.package.version) for p in got.inventory.installed
    } == (expected)
    assert got.os.id == "amzn"


# -- bad input: one line, the right exit code --------------------------------------------------


def test_corrupt_and_wrong_inputs_are_one_line_errors(golden: Golden, pw: Cli) -> None:
    broken = golden.work / "broken-layout"
    shutil.copytree(golden.layout, broken)
    top = blob(broken, layers_of(broken, "v2")[-1])
    data = top.read_bytes()
    top.write_bytes(data[: len(data) // 2])
    tar_file = golden.work / "not-an-image.tar"
    with tarfile.open(tar_file, "w") as tar:
        tar.add(golden.node.root / "etc/os-release", arcname="etc/os-release")
    cases = {
        f"{broken}:v2": (2, "not a readable layer"),
        f"{broken}:v9": (2, "no image tagged 'v9'"),
        str(golden.node.root): (2, "not an OCI image layout"),
        str(tar_file): (2, "not an image archive"),
        str(golden.node.status_path): (2, "not an image"),
        "docker://127.0.0.1:9/golden/app:v1": (3, "cannot reach registry"),
        "docker://127.0.0.1:9/UPPER:v1": (2, "not a valid registry reference"),
    }
    top.unlink()
    cases[f"{broken}:v2"] = (2, "missing blob")
    for ref, (code, message) in cases.items():
        result = pw("image", "scan", ref)
        assert result.returncode == code, str(result)
        assert message in result.stderr, str(result)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    top.write_bytes(data[: len(data) // 2])
    truncated = pw("image", "scan", f"{broken}:v2")
    assert truncated.returncode == 2 and "not a readable layer" in truncated.stderr, str(truncated)
