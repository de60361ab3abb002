"""An Alpine 3.19 root, written by hand in apk's REAL on-disk formats (no apk-tools needed).

:func:`write_alpine_root` lays out what a scan reads from an Alpine machine:

- ``etc/os-release``: Alpine 3.19.1's (``ID=alpine``, ``VERSION_ID=3.19.1``);
- ``etc/apk/repositories``: one repository URL per line, ``#`` comments, an ``@tag`` prefix
  for a tagged repository (here ``@testing``, with no cached index: apk ignores tagged
  repositories for upgrades, and so does Patchwarden);
- ``etc/apk/arch``: the native architecture (``x86_64``);
- ``lib/apk/db/installed``: blocks of ``K:value`` lines separated by blank lines — ``C:``
  checksum, ``P:`` name, ``V:`` version, ``A:`` arch, ``S:``/``I:`` sizes, ``T:``
  description, ``U:`` URL, ``L:`` licence, ``o:`` origin (source package), ``m:``
  maintainer, ``t:`` build time, ``c:`` aports commit, ``D:`` depends, ``p:`` provides,
  then the package's files (``F:`` directory, ``R:`` file, ``a:``/``M:`` modes, ``Z:``
  file checksum);
- ``var/cache/apk/APKINDEX.<8 hex>.tar.gz`` for ``main`` and ``community``: gzip tars
  holding ``DESCRIPTION`` and ``APKINDEX`` (same block format, no file lines), preceded by
  a ``.SIGN.RSA.*`` signature tar stream without end-of-archive blocks, as
  ``abuild-sign`` writes them.  The 8 hex digits are the first 4 bytes of SHA-1 of the
  repository URL (apk-tools ``apk_repo_format_cache_index``).

Versions are the real 3.19 ones of January 2024 (musl 1.2.4_git20230717-r4, busybox
1.36.1-r15, openssl 3.1.4-r2 …); the indexes offer newer builds of some packages
(:data:`UPDATES`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

MIRROR = "https://dl-cdn.alpinelinux.org/alpine"
MAIN = f"{MIRROR}/v3.19/main"
COMMUNITY = f"{MIRROR}/v3.19/community"
TESTING = f"{MIRROR}/edge/testing"
ARCH = "x86_64"
BUILT = 1700000000
"""Build time (``t:``) of the installed packages: 2023-11-14."""
REBUILT = 1706000000
"""Build time of the newer index versions: 2024-01-23."""


@dataclass(frozen=True)
class Pkg:
    """One package as the fixture writes it."""

    name: str
    version: str
    origin: str
    description: str
    depends: str = ""
    provides: str = ""
    arch: str = ARCH


INSTALLED: tuple[Pkg, ...] = (
    Pkg(
        "musl",
        "1.2.4_git20230717-r4",
        "musl",
        "the musl c library (libc) implementation",
        provides="so:libc.musl-x86_64.so.1=1",
    ),
    Pkg(
        "busybox",
        "1.36.1-r15",
        "busybox",
        "Size optimized toolbox of many common UNIX utilities",
        depends="so:libc.musl-x86_64.so.1",
        provides="cmd:busybox=1.36.1-r15",
    ),
    Pkg(
        "busybox-binsh",
        "1.36.1-r15",
        "busybox",
        "busybox ash /bin/sh",
        depends="busybox=1.36.1-r15",
        provides="/bin/sh cmd:sh=1.36.1-r15",
    ),
    Pkg(
        "alpine-baselayout",
        "3.4.3-r2",
        "alpine-baselayout",
        "Alpine base dir structure and init scripts",
        depends="alpine-baselayout-data=3.4.3-r2 /bin/sh",
    ),
    Pkg(
        "alpine-baselayout-data",
        "3.4.3-r2",
        "alpine-baselayout",
        "Alpine base dir structure and init scripts",
    ),
    Pkg(
        "alpine-keys",
        "2.4-r1",
        "alpine-keys",
        "Public keys for Alpine Linux packages",
        arch="x86_64",
    ),
    Pkg(
        "apk-tools",
        "2.14.0-r5",
        "apk-tools",
        "Alpine Package Keeper - package manager for alpine",
        depends="musl>=1.2.3_git20230424 ca-certificates-bundle so:libc.musl-x86_64.so.1 "
        "so:libcrypto.so.3 so:libssl.so.3 so:libz.so.1",
        provides="so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.0-r5",
    ),
    Pkg(
        "ca-certificates-bundle",
        "20230506-r0",
        "ca-certificates",
        "Pre generated bundle of Mozilla certificates",
        provides="ca-certificates-cacert=20230506-r0",
    ),
    Pkg(
        "libcrypto3",
        "3.1.4-r2",
        "openssl",
        "Crypto library from openssl",
        depends="so:libc.musl-x86_64.so.1",
        provides="so:libcrypto.so.3=3",
    ),
    Pkg(
        "libssl3",
        "3.1.4-r2",
        "openssl",
        "SSL shared libraries",
        depends="so:libc.musl-x86_64.so.1 so:libcrypto.so.3",
        provides="so:libssl.so.3=3",
    ),
    Pkg(
        "zlib",
        "1.3-r2",
        "zlib",
        "A compression/decompression Library",
        depends="so:libc.musl-x86_64.so.1",
        provides="so:libz.so.1=1.3",
    ),
    Pkg(
        "libc-utils",
        "0.7.2-r5",
        "libc-dev",
        "Meta package to pull in correct libc",
        depends="musl-utils",
    ),
    Pkg(
        "musl-utils",
        "1.2.4_git20230717-r4",
        "musl",
        "the musl c library (libc) implementation",
        depends="scanelf so:libc.musl-x86_64.so.1",
        provides="cmd:getconf=1.2.4_git20230717-r4",
    ),
    Pkg(
        "scanelf",
        "1.3.7-r2",
        "pax-utils",
        "Scan ELF binaries for stuff",
        depends="so:libc.musl-x86_64.so.1",
        provides="cmd:scanelf=1.3.7-r2",
    ),
    Pkg(
        "ripgrep",
        "14.0.3-r0",
        "ripgrep",
        "ripgrep combines the usability of The Silver Searcher with the raw speed of grep",
        depends="so:libc.musl-x86_64.so.1 so:libgcc_s.so.1 so:libpcre2-8.so.0",
        provides="cmd:rg=14.0.3-r0",
    ),
)
"""The installed packages (``ripgrep`` comes from community)."""

UPDATES: dict[str, tuple[str, str]] = {
    # name: (newer version in the index, repository)
    "busybox": ("1.36.1-r19", "main"),
    "busybox-binsh": ("1.36.1-r19", "main"),
    "libcrypto3": ("3.1.4-r5", "main"),
    "libssl3": ("3.1.4-r5", "main"),
    "zlib": ("1.3.1-r0", "main"),
    "ripgrep": ("14.1.0-r0", "community"),
}
"""What the cached indexes offer newer than installed: the expected MISSING patches."""

EXTRA_MAIN = (
    Pkg("curl", "8.5.0-r0", "curl", "URL retrival utility and library"),
    # an older openssl build than installed, still listed by a mirror: never an update
    Pkg("libcrypto3", "3.1.4-r1", "openssl", "Crypto library from openssl"),
)
EXTRA_COMMUNITY = (Pkg("yq", "4.35.2-r3", "yq", "portable command-line YAML processor"),)


def cache_name(url: str) -> str:
    """``APKINDEX.<first 4 bytes of SHA-1(url), hex>.tar.gz`` (apk-tools' cache name)."""
    return f"APKINDEX.{hashlib.sha1(url.encode()).digest()[:4].hex()}.tar.gz"


def _block(pkg: Pkg, built: int, *, files: bool) -> str:
    checksum = "Q1" + hashlib.sha1(f"{pkg.name}-{pkg.version}".encode()).hexdigest()[:26] + "="
    lines = [
        f"C:{checksum}",
        f"P:{pkg.name}",
        f"V:{pkg.version}",
        f"A:{pkg.arch}",
        "S:123456",
        "I:456789",
        f"T:{pkg.description}",
        "U:https://alpinelinux.org",
        "L:MIT",
        f"o:{pkg.origin}",
        "m:Natanael Copa <ncopa@alpinelinux.org>",
        f"t:{built}",
        "c:8c9cb19c0c4a2f6c7f8a6ff4d2ba8a1d4b7f6c3e",
    ]
    if pkg.depends:
        lines.append(f"D:{pkg.depends}")
    if pkg.provides:
        lines.append(f"p:{pkg.provides}")
    if files:
        lines += [
            f"F:usr/share/doc/{pkg.name}",
            "R:README",
            "a:0:0:644",
            "Z:Q1abcdefghijklmnopqrstuvwxyz0=",
        ]
    return "\n".join(lines) + "\n"


def installed_db(packages: tuple[Pkg, ...] = INSTALLED) -> str:
    """The text of ``lib/apk/db/installed``."""
    return "\n".join(_block(p, BUILT, files=True) for p in packages) + "\n"


def _tar_bytes(members: dict[str, bytes], *, end: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), REBUILT, 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    if end:
        return raw
    # abuild-sign strips the end-of-archive blocks (and tarfile's record padding) of the
    # signature tar, so that signature + index read as one archive
    size = 512 + ((len(next(iter(members.values()))) + 511) // 512) * 512
    return raw[:size]


def apkindex_tar_gz(packages: list[Pkg], description: str) -> bytes:
    """An ``APKINDEX.tar.gz``: a signature stream, then ``DESCRIPTION`` and ``APKINDEX``."""
    index = "\n".join(_block(p, REBUILT, files=False) for p in packages) + "\n"
    signature = _tar_bytes(
        {".SIGN.RSA.alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub": b"\0" * 512}, end=False
    )
    body = _tar_bytes({"DESCRIPTION": description.encode(), "APKINDEX": index.encode()}, end=True)
    return gzip.compress(signature, mtime=0) + gzip.compress(body, mtime=0)


def index_packages(repo: str) -> list[Pkg]:
    """The packages of the ``main`` or ``community`` index of the fixture."""
    out: list[Pkg] = []
    for pkg in INSTALLED:
        newer = UPDATES.get(pkg.name)
        home = newer[1] if newer else ("community" if pkg.name == "ripgrep" else "main")
        if home != repo:
            continue
        if newer:
            pkg = Pkg(
                pkg.name, newer[0], pkg.origin, pkg.description, pkg.depends, pkg.provides, pkg.arch
            )
        out.append(pkg)
    out.extend(EXTRA_MAIN if repo == "main" else EXTRA_COMMUNITY)
    return out


def write_alpine_root(root: Path, *, hostname: str = "alpine-node") -> Path:
    """Write the Alpine 3.19 root under ``root`` and return it."""
    (root / "etc/apk").mkdir(parents=True, exist_ok=True)
    (root / "lib/apk/db").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apk").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(
        'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'
        'PRETTY_NAME="Alpine Linux v3.19"\nHOME_URL="https://alpinelinux.org/"\n'
        'BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"\n'
    )
    (root / "etc/hostname").write_text(hostname + "\n")
    (root / "etc/apk/arch").write_text(ARCH + "\n")
    (root / "etc/apk/repositories").write_text(
        f"{MAIN}\n{COMMUNITY}\n#{MIRROR}/v3.19/testing\n\n@testing {TESTING}\n"
    )
    (root / "etc/apk/world").write_text(
        "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nlibc-utils\nripgrep\n"
    )
    (root / "lib/apk/db/installed").write_text(installed_db())
    for url, repo in ((MAIN, "main"), (COMMUNITY, "community")):
        desc = f"v3.19.1-{'130' if repo == 'main' else '78'}-g0123456789"
        (root / "var/cache/apk" / cache_name(url)).write_bytes(
            apkindex_tar_gz(index_packages(repo), desc)
        )
    return root
