"""The mirror index reader (:mod:`patchwarden.adapters.image.mirrors`) against real local
apt repositories made with ``dpkg-deb --build`` and ``apt-ftparchive packages``: what a
recipe's bootstrap mirrors offer, and a newer version published there making an image
stale."""

from __future__ import annotations

import gzip
import lzma
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sandbox import Repo, build_deb, missing_tools

from patchwarden.adapters.image.mirrors import MirrorIndex, parse_mirror
from patchwarden.core.imagebuild import ImagePackage
from patchwarden.core.staleness import package_updates

pytestmark = pytest.mark.integration

ARCH = "amd64"


@pytest.fixture(autouse=True)
def _tools() -> None:
    if missing_tools():
        pytest.skip("missing " + ", ".join(missing_tools()))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo", arch=ARCH)
    work = tmp_path / "work"
    repo.add(
        "bookworm",
        build_deb(work, "zlib1g", "1:1.2.13.dfsg-1", ARCH, source="zlib"),
        build_deb(work, "base-files", "12.4", "all"),
    )
    repo.publish()
    return repo


def test_parse_mirror_lines() -> None:
    assert parse_mirror("deb [trusted=yes] copy:///srv/repo bookworm main", "x") == (
        "copy:///srv/repo", "bookworm", ("main",),
    )  # fmt: skip
    assert parse_mirror("deb [ trusted=yes arch=amd64 ] file:/r jammy main universe", "x") == (
        "file:/r", "jammy", ("main", "universe"),
    )  # fmt: skip
    assert parse_mirror("http://deb.debian.org/debian", "bookworm") == (
        "http://deb.debian.org/debian", "bookworm", ("main",),
    )  # fmt: skip
    assert parse_mirror("deb-src http://x bookworm main", "bookworm") is None


def test_a_newer_version_published_is_detected(repo: Repo, tmp_path: Path) -> None:
    mirrors = (f"deb [trusted=yes] copy://{repo.path} bookworm main",)
    carried = [
        ImagePackage("zlib1g", ARCH, "1:1.2.13.dfsg-1", "zlib"),
        ImagePackage("base-files", "all", "12.4"),
    ]
    offered = MirrorIndex().offered(mirrors, "bookworm", [ARCH])
    assert offered.warnings == ()
    assert offered.versions[("zlib1g", ARCH)] == "1:1.2.13.dfsg-1"
    assert offered.versions[("base-files", "all")] == "12.4"
    assert package_updates(carried, offered.versions) == []
    # the archive moves on: a newer zlib (by dpkg's ordering: 1.2.13.dfsg-1 < 1.2.13.dfsg-1+b1)
    repo.add("bookworm", build_deb(tmp_path / "w2", "zlib1g", "1:1.2.13.dfsg-1+b1", ARCH))
    repo.publish()
    offered = MirrorIndex().offered(mirrors, "bookworm", [ARCH], names={"zlib1g"})
    assert offered.versions == {("zlib1g", ARCH): "1:1.2.13.dfsg-1+b1"}
    (reason,) = package_updates(carried, offered.versions)
    assert reason.text == "zlib1g 1:1.2.13.dfsg-1 → 1:1.2.13.dfsg-1+b1 in the recipe's mirrors"


def test_compressed_only_indices_are_read(repo: Repo) -> None:
    binary = repo.path / "dists/bookworm/main" / f"binary-{ARCH}"
    text = (binary / "Packages").read_text()
    (binary / "Packages").unlink()
    (binary / "Packages.gz").unlink()
    (binary / "Packages.xz").write_bytes(lzma.compress(text.encode()))
    offered = MirrorIndex().offered([f"deb file:{repo.path} bookworm main"], "bookworm", [ARCH])
    assert offered.versions[("zlib1g", ARCH)] == "1:1.2.13.dfsg-1"


def test_missing_and_corrupt_indices_are_warnings(repo: Repo, tmp_path: Path) -> None:
    binary = repo.path / "dists/bookworm/main" / f"binary-{ARCH}"
    (binary / "Packages").unlink()
    (binary / "Packages.gz").write_bytes(gzip.compress(b"Package: x\n")[:10])  # truncated
    mirrors = [
        f"deb copy://{repo.path} bookworm main",
        f"deb copy://{tmp_path / 'nowhere'} bookworm main",
    ]
    offered = MirrorIndex().offered(mirrors, "bookworm", [ARCH])
    assert offered.versions == {}
    assert len(offered.warnings) == 2
    assert "corrupt gz data" in offered.warnings[0]
    assert offered.warnings[1].startswith(f"no package index {tmp_path / 'nowhere'}/dists/")
    assert all("\n" not in w for w in offered.warnings)


@pytest.fixture
def served(repo: Repo) -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(repo.path))
    handler.log_message = lambda *_a, **_k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_mirrors(served: str) -> None:
    offered = MirrorIndex(timeout=10).offered([served], "bookworm", [ARCH])
    assert offered.warnings == ()
    assert offered.versions[("zlib1g", ARCH)] == "1:1.2.13.dfsg-1"
    missing = MirrorIndex(timeout=10).offered([served], "trixie", [ARCH])
    assert missing.versions == {}
    (warning,) = missing.warnings
    assert warning.startswith(f"no package index at {served}/dists/trixie/main/binary-{ARCH}")
    assert "HTTP 404" in warning
