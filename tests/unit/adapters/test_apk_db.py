"""The apk adapter: installed database / APKINDEX parsing, repositories, the manager."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.os import detect
from patchwarden.adapters.os.apk import db
from patchwarden.adapters.os.apk.manager import ApkPackageManager
from patchwarden.adapters.os.apk.repos import (
    ApkRepository,
    cache_dir,
    index_path,
    parse_repositories,
    repositories,
)
from patchwarden.adapters.runner import FakeRunner
from patchwarden.core.model import Package
from patchwarden.errors import EnvironmentProblem, InputError
from patchwarden.ports import RunResult

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data" / "alpine"))

import alpine_root

# A block exactly as apk 2.14 writes lib/apk/db/installed (file lines trimmed).
INSTALLED = """\
C:Q1nlb4n5dD6ee1oAg2zJ1dB6cvn0k=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1697036002
c:0ae3af3d3a8a1a4c8c3d7a5d8b6a6e1f2c3d4e5f
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1kNV8Xlrn2wNGBmCODTbUwcVHuqI=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1E4mB9ZLm8nEtQpoAzZvlcDUE9GE=
P:libcrypto3
V:3.1.4-r2
A:x86_64
o:openssl
t:1699270000
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
r:libressl2.7-libcrypto
q:1
X:a key from a future apk
F:usr/lib
R:libcrypto.so.3
"""


def test_installed_blocks_keep_name_version_arch_origin_and_build_time() -> None:
    musl, crypto = db.parse(INSTALLED, "installed")
    assert (musl.name, musl.version, musl.arch, musl.origin) == (
        "musl",
        "1.2.4_git20230717-r4",
        "x86_64",
        "musl",
    )
    assert musl.build_time == datetime.fromtimestamp(1697036002, UTC)
    assert musl.provides == ("so:libc.musl-x86_64.so.1=1",)
    assert musl.where == "installed:1"
    assert (crypto.origin, crypto.depends, crypto.where) == (
        "openssl",
        ("so:libc.musl-x86_64.so.1",),
        "installed:23",
    )
    assert crypto.fields["X"] == "a key from a future apk"  # unknown keys are kept
    assert "R" not in crypto.fields  # file lines are not


def test_blank_lines_and_crlf_are_tolerated() -> None:
    text = "\n\nP:a\r\nV:1.0-r0\r\n\n\n\nP:b\nV:2-r1\n"
    assert [(r.name, r.version) for r in db.parse(text, "x")] == [("a", "1.0-r0"), ("b", "2-r1")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P:a\nV:1-r0\nnot a field line\n", "idx:3: not a 'K:value' line: 'not a field line'"),
        ("P:a\nV:1-r0\n:x\n", "idx:3: not a 'K:value' line"),
        ("P:a\nA:x86_64\n", "idx:1: package block without V: (version)"),
        ("P:a\nV:1-r0\n\nV:2-r0\n", "idx:4: package block without P: (name)"),
        ("P:a\nV:1-r0\nt:yesterday\n", "idx:1: a: bad build time t:'yesterday'"),
    ],
)
def test_malformed_input_is_one_line_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        db.parse(text, "idx")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_apkindex_tar_gz_with_signature_stream(tmp_path: Path) -> None:
    path = tmp_path / "APKINDEX.tar.gz"
    path.write_bytes(alpine_root.apkindex_tar_gz(alpine_root.index_packages("main"), "v3.19"))
    names = {(r.name, r.version) for r in db.read_index(path)}
    assert ("libcrypto3", "3.1.4-r5") in names and ("curl", "8.5.0-r0") in names


def test_apkindex_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "APKINDEX.bad.tar.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"APKINDEX\.bad\.tar\.gz: not a readable"):
        db.read_index(bad)
    empty = tmp_path / "APKINDEX.empty.tar.gz"
    empty.write_bytes(alpine_root.gzip.compress(alpine_root._tar_bytes({"X": b"1"}, end=True)))
    with pytest.raises(InputError, match="no APKINDEX in the archive"):
        db.read_index(empty)


# -- repositories ----------------------------------------------------------------------------


def test_repositories_file_lines_tags_and_comments() -> None:
    text = (
        "# the mirror\n"
        "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n"
        "  https://dl-cdn.alpinelinux.org/alpine/v3.19/community  \n"
        "\n"
        "@edge\thttps://dl-cdn.alpinelinux.org/alpine/edge/testing\n"
        "@lonely\n"
        "/srv/packages/custom\n"
    )
    repos = parse_repositories(text, "repositories")
    assert [(r.url, r.tag, r.branch, r.name) for r in repos] == [
        ("https://dl-cdn.alpinelinux.org/alpine/v3.19/main", "", "v3.19", "main"),
        ("https://dl-cdn.alpinelinux.org/alpine/v3.19/community", "", "v3.19", "community"),
        ("https://dl-cdn.alpinelinux.org/alpine/edge/testing", "edge", "edge", "testing"),
        ("/srv/packages/custom", "", "packages", "custom"),
    ]
    assert repos[0].source == "repositories:2"
    assert repos[-1].local and not repos[0].local


def test_cache_name_is_apk_tools_sha1_prefix_of_the_url() -> None:
    # sha1("https://dl-cdn.alpinelinux.org/alpine/v3.19/main") starts 6bd8ca47…
    assert ApkRepository(alpine_root.MAIN).cache_name == "APKINDEX.6bd8ca47.tar.gz"
    assert ApkRepository(alpine_root.COMMUNITY).cache_name == "APKINDEX.728a4eb9.tar.gz"


def test_cache_dir_follows_an_absolute_link_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/apk").mkdir(parents=True)
    assert cache_dir(root) == root / "var/cache/apk"
    (root / "var/cache/apk").mkdir(parents=True)
    (root / "etc/apk/cache").symlink_to("/var/cache/apk")
    assert cache_dir(root) == root / "var/cache/apk"


def test_local_repository_index_is_read_in_place(tmp_path: Path) -> None:
    (tmp_path / "etc/apk").mkdir(parents=True)
    (tmp_path / "etc/apk/arch").write_text("aarch64\n")
    (tmp_path / "etc/apk/repositories").write_text("/srv/repo/main\n")
    (repo,) = repositories(tmp_path)
    assert index_path(tmp_path, repo) == tmp_path / "srv/repo/main/aarch64/APKINDEX.tar.gz"


# -- the manager -----------------------------------------------------------------------------


@pytest.fixture
def alpine(tmp_path: Path) -> Path:
    return alpine_root.write_alpine_root(tmp_path / "alpine")


def test_detect_picks_apk_for_alpine(alpine: Path) -> None:
    pm = detect(str(alpine))
    assert isinstance(pm, ApkPackageManager) and pm.scheme == "apk"


def test_collect_installed_and_newer_index_versions(alpine: Path) -> None:
    inventory = ApkPackageManager(str(alpine)).collect()
    assert inventory.os.operating_system == "ALPINE"
    assert inventory.os.product == "Alpine3.19"
    assert inventory.hostname == "alpine-node"
    installed = {ip.package.name: ip.package for ip in inventory.installed}
    assert {n: p.version for n, p in installed.items()} == {
        p.name: p.version for p in alpine_root.INSTALLED
    }
    assert installed["libssl3"].source_name == "openssl"
    assert installed["musl"].repository == "main"  # the index carries the installed version
    updates = {u.name: u for u in inventory.updates}
    assert {n: (u.version, u.repository) for n, u in updates.items()} == alpine_root.UPDATES
    crypto = updates["libcrypto3"]
    assert (crypto.source_name, crypto.source_version, crypto.arch) == (
        "openssl",
        "3.1.4-r5",
        "x86_64",
    )
    assert crypto.release_date == datetime.fromtimestamp(alpine_root.REBUILT, UTC)
    assert crypto.origins[0].archive == "v3.19/main"
    assert not crypto.update_notice


def test_collect_needs_every_untagged_index(alpine: Path) -> None:
    (alpine / "var/cache/apk" / alpine_root.cache_name(alpine_root.COMMUNITY)).unlink()
    with pytest.raises(EnvironmentProblem, match=r"no apk index cached for repository .*community"):
        ApkPackageManager(str(alpine)).collect()


def test_collect_without_database(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="no apk database"):
        ApkPackageManager(str(tmp_path)).collect()


def test_collect_is_cached(alpine: Path, tmp_path: Path) -> None:
    first = ApkPackageManager(str(alpine), cache_dir=str(tmp_path / "c")).collect()
    again = ApkPackageManager(str(alpine), cache_dir=str(tmp_path / "c")).collect()
    assert again == first


def test_refresh_and_install_need_apk_tools(alpine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    pm = ApkPackageManager(str(alpine))
    with pytest.raises(EnvironmentProblem, match=r"apk-tools is not installed \(refresh needs"):
        pm.refresh()
    pkg = Package("zlib", "x86_64", "1.3.1-r0")
    with pytest.raises(EnvironmentProblem, match="install needs"):
        pm.install([pkg])
    with pytest.raises(EnvironmentProblem, match="plan needs"):
        pm.plan([pkg])


def test_refresh_runs_apk_update(alpine: Path) -> None:
    runner = FakeRunner()
    ApkPackageManager(str(alpine), runner=runner, apk="/sbin/apk").refresh()
    assert runner.calls == [("/sbin/apk", "--root", str(alpine), "--no-progress", "update")]


def test_plan_parses_apk_simulate(alpine: Path) -> None:
    out = (
        "(1/2) Upgrading libcrypto3 (3.1.4-r2 -> 3.1.4-r5)\n"
        "(2/2) Upgrading libssl3 (3.1.4-r2 -> 3.1.4-r5)\n"
        "OK: 9 MiB in 15 packages\n"
    )
    runner = FakeRunner(lambda argv: RunResult(argv, 0, out, ""))
    pm = ApkPackageManager(str(alpine), runner=runner, apk="apk")
    plan = pm.plan([Package("libcrypto3", "x86_64", "3.1.4-r5")])
    assert runner.calls[0][-3:] == ("add", "--simulate", "libcrypto3=3.1.4-r5")
    assert plan.actions == (
        "upgrading libcrypto3 3.1.4-r2 -> 3.1.4-r5",
        "upgrading libssl3 3.1.4-r2 -> 3.1.4-r5",
    )
    assert plan.touched == (("libcrypto3", "x86_64", "3.1.4-r5"), ("libssl3", "", "3.1.4-r5"))


def test_install_runs_apk_add_per_package_and_checks_the_database(alpine: Path) -> None:
    db_path = alpine / "lib/apk/db/installed"

    def apk(argv: tuple[str, ...]) -> RunResult:
        if argv[-1] == "zlib=1.3.1-r0":  # what apk would do: rewrite the installed database
            db_path.write_text(db_path.read_text().replace("V:1.3-r2", "V:1.3.1-r0"))
            return RunResult(argv, 0, "(1/1) Upgrading zlib (1.3-r2 -> 1.3.1-r0)\n", "")
        return RunResult(
            argv, 1, "", "ERROR: unable to select packages:\n  ripgrep-14.9 (no such)\n"
        )

    runner = FakeRunner(apk)
    outcomes = ApkPackageManager(str(alpine), runner=runner, apk="apk").install(
        [Package("zlib", "x86_64", "1.3.1-r0"), Package("ripgrep", "x86_64", "14.9-r0")]
    )
    assert [c[-2:] for c in runner.calls] == [("add", "zlib=1.3.1-r0"), ("add", "ripgrep=14.9-r0")]
    assert [(o.name, o.ok) for o in outcomes] == [("zlib", True), ("ripgrep", False)]
    assert outcomes[1].detail == "apk add exited with 1: ripgrep-14.9 (no such)"
