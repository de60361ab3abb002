"""Hypothesis fuzzing of every parser that reads untrusted bytes.

The contract each test asserts is what the parser's callers rely on: bad input raises the
project's own error (:class:`~patchwarden.errors.PatchwardenError`, the subclass the caller
catches where it is narrower), never a ``KeyError``, ``IndexError``, ``UnicodeDecodeError``,
``RecursionError``, ``struct.error`` or bare ``ValueError``, and never hangs.

Inputs are random bytes and, mostly, mutations of the real fixtures of ``tests/data`` and
``examples/`` (bytes flipped, inserted, deleted, duplicated; for JSON and YAML documents, a
subtree replaced, removed or added), so most examples get past the first syntax check.

``PATCHWARDEN_FUZZ_PARSER_EXAMPLES`` examples per parser: a small budget by default (part of
the default test run, derandomized so CI is reproducible), ``make fuzz-parsers`` runs many
more.  A crash found here becomes a regression test in ``test_parser_regressions.py``.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from patchwarden.adapters.feeds import FEEDS
from patchwarden.adapters.image.layers import LayerFiles, apply_layer
from patchwarden.adapters.image.manifests import parse_config
from patchwarden.adapters.image.packages import rpm_packages
from patchwarden.adapters.image.reader import OciImageReader
from patchwarden.adapters.os.apk import db as apk_db
from patchwarden.adapters.os.apk.repos import parse_repositories
from patchwarden.adapters.os.apt.changelog import newest_entry_date, parse_changelog
from patchwarden.adapters.os.apt.conf import parse_apt_conf
from patchwarden.adapters.os.apt.manager import AptPackageManager
from patchwarden.adapters.os.apt.policy import parse_preferences
from patchwarden.adapters.os.dnf.repomd import parse_repomd
from patchwarden.adapters.os.dnf.updateinfo import index_notices, iter_notices, notice_facts
from patchwarden.core.schedule import check_fires, next_runs, parse_schedule, validate_window
from patchwarden.documents import load_documents
from patchwarden.documents.baseline import import_aws_json
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.osnames import parse_os_release
from patchwarden.ports import RunResult
from patchwarden.versions import SCHEMES, compare

EXAMPLES = int(os.environ.get("PATCHWARDEN_FUZZ_PARSER_EXAMPLES", "60"))
"""Examples per parser (``make fuzz-parsers`` raises it)."""

HANG_SECONDS = float(os.environ.get("PATCHWARDEN_FUZZ_PARSER_HANG_SECONDS", "20"))
"""One example taking longer than this counts as a hang (generous: CI machines are busy)."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
EXAMPLES_DIR = TESTS.parent / "examples"


def seeds(*patterns: str, base: Path = DATA) -> list[bytes]:
    found = [p.read_bytes() for pattern in patterns for p in sorted(base.glob(pattern))]
    assert found, f"no fixture matches {patterns}"
    return found


# -- generic strategies ---------------------------------------------------------------------

TOKENS = (
    b"\x00",
    b"\xff",
    b"\r\n",
    b"\n\n",
    b"\n ",
    b":",
    b": ",
    b"-",
    b"~",
    b"+",
    b"*",
    b"?",
    b"/",
    b"#",
    b",",
    b'"',
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b"<",
    b">",
    b"&amp;",
    b"&#0;",
    b"0",
    b"-1",
    b"99999999999999999999999",
    b"1e999",
    b"null",
    b"true",
    b"\xc3\x28",  # invalid UTF-8
    b"\xef\xbb\xbf",  # BOM
    b"\xc2\xb2",  # superscript two: str.isdigit() is true, int() refuses it
    b"\xd9\xa3",  # Arabic-Indic three: a Unicode digit int() accepts
    b"\\u0000",
    b"\\ud800",
    b"*a",
    b"&a ",
    b"!!python/object:os.system",
    b"\t",
)


OPS = ("field", "field", "flip", "insert", "token", "delete", "duplicate", "truncate")
SEPARATORS = frozenset(b'\t\n "<>,:;=/')
FIELD_VALUES = (
    b"",
    b"\xc2\xb2",  # superscript two
    b"\xd9\xa3",  # Arabic-Indic three
    b"-1",
    b"0",
    b"99999999999999999999999",
    b"1e999",
    b"\xff",
    b"x",
    b"[",
)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, max_ops: int = 6) -> bytes:
    """``seed`` with a few random byte-level edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(OPS))
        at = draw(st.integers(0, len(data)))
        if op == "field":  # a whole field (separator to separator) becomes an odd value
            starts = [0, *(i + 1 for i, c in enumerate(data) if c in SEPARATORS)]
            at = starts[draw(st.integers(0, len(starts) - 1))]
            ends = [i for i in (data.find(bytes([c]), at) for c in SEPARATORS) if i >= 0]
            data[at : min(ends, default=len(data))] = draw(st.sampled_from(FIELD_VALUES))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            size = draw(st.integers(1, 256))
            data[at:at] = data[at : at + size]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def fuzzed_bytes(pool: Sequence[bytes], max_size: int = 512) -> st.SearchStrategy[bytes]:
    """Mostly mutated fixtures, sometimes a fixture untouched or random bytes."""
    edited = st.sampled_from(pool).flatmap(mutated)
    return st.one_of(edited, edited, edited, st.sampled_from(pool), st.binary(max_size=max_size))


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=16),
    st.sampled_from(
        (
            "",
            "0",
            "-1",
            "1.0",
            "²",
            "sha256:",
            "sha256:../x",
            "a:b",
            "CVE-2024-0001",
            "2024-01-01T00:00:00Z",
            "2024-13-45",
            "cron(0 2 ? * SUN *)",
            "rate(5 minutes)",
            "1:2.3-4",
            "x" * 300,
        )
    ),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    )


JSON_VALUES = st.recursive(JSON_LEAVES, _containers, max_leaves=8)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def tree_mutated(draw: st.DrawFn, seed: Any, max_ops: int = 3) -> Any:
    """A copy of the JSON-like ``seed`` with a few subtrees replaced, removed or added."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        path = draw(st.sampled_from(list(_paths(value))))
        op = draw(st.sampled_from(("replace", "replace", "delete", "add")))
        new = draw(JSON_VALUES)
        if not path:
            value = new if op == "replace" else value
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if op == "replace":
            parent[last] = new
        elif op == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = new
        else:
            parent.insert(last, new)
    return value


def json_fuzzed(pool: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """JSON fixtures mutated as bytes and as trees."""
    trees = [json.loads(data) for data in pool]
    return st.one_of(
        fuzzed_bytes(pool),
        st.sampled_from(trees).flatmap(tree_mutated).map(lambda v: json.dumps(v).encode()),
    )


def shows(test: Callable[..., None]) -> Callable[..., None]:
    """Notes the test's generated arguments: what a failure prints is the input to replay."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            if name != "tmp_path" and not isinstance(value, st.DataObject):
                note(f"{name} = {value!r}")
        test(*args, **kwargs)

    return run


def drawn(data: st.DataObject, strategy: st.SearchStrategy[Any], label: str) -> Any:
    """``data.draw`` with the value noted (see :func:`shows`)."""
    value = data.draw(strategy, label=label)
    note(f"{label} = {value!r}")
    return value


class Clock:
    """Fails an example that takes longer than :data:`HANG_SECONDS`."""

    def __enter__(self) -> Clock:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        took = time.monotonic() - self.start
        assert took < HANG_SECONDS, f"took {took:.1f} s: a hang"


def contract(
    call: Callable[[], object], allowed: type[BaseException] = PatchwardenError
) -> object | None:
    """Run ``call``: a result, or ``allowed`` (with a one-line message); anything else fails
    the test with its own traceback."""
    with Clock():
        try:
            return call()
        except allowed as exc:
            message = str(exc)
            assert message.strip(), f"{type(exc).__name__} without a message"
            return None


def scratch(tmp_path: Path) -> tempfile.TemporaryDirectory[str]:
    """A fresh directory per example (the test's tmp_path is shared by its examples)."""
    return tempfile.TemporaryDirectory(dir=tmp_path)


class FakeRunner:
    """A :class:`~patchwarden.ports.Runner` that answers every command with ``stdout``."""

    def __init__(self, stdout: str = "", returncode: int = 0) -> None:
        self.stdout = stdout
        self.returncode = returncode

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> RunResult:
        return RunResult(tuple(argv), self.returncode, self.stdout, "")


def decoded(data: bytes) -> str:
    """Bytes as the adapters turn a file into text (UTF-8, bad bytes replaced)."""
    return data.decode("utf-8", errors="replace")


# -- dpkg status, apt Packages and Release --------------------------------------------------

OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
STATUS = (
    b"Package: dpkg\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\n"
    b"Version: 1.21.22\n\n"
    b"Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.0-1)\n"
    b"Version: 1.0-1\nDepends: libc6 (>= 2.34)\nDescription: foo\n a library\n .\n more\n\n"
    b"Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2:2.0~rc1-1\n\n"
    b"Package: half\nStatus: install ok half-configured\nArchitecture: amd64\nVersion: 3.0-1\n\n"
    b"Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 0.9\n"
)
PACKAGES = (
    b"Package: libfoo1\nSource: foo\nVersion: 1.0-1+deb12u1\nInstalled-Size: 100\n"
    b"Architecture: amd64\nPhased-Update-Percentage: 50\nFilename: pool/main/f/foo/x.deb\n"
    b"Size: 1000\nSHA256: 00\nPriority: optional\nSection: libs\n\n"
    b"Package: bar\nVersion: 2:2.0-1\nArchitecture: all\nFilename: pool/main/b/bar/bar.deb\n\n"
    b"Package: half\nVersion: 3.1-1\nArchitecture: amd64\n\n"
    b"Package: dpkg\nVersion: 1.21.23\nArchitecture: amd64\n"
)
RELEASE = (
    b"Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nVersion: 12\n"
    b"Codename: bookworm-security\nDate: Sat, 01 Jun 2024 00:00:00 UTC\n"
    b"Architectures: amd64 arm64\nComponents: updates/main\nNotAutomatic: no\n"
    b"ButAutomaticUpgrades: no\nSHA256:\n 0000 100 main/binary-amd64/Packages\n"
)
IN_RELEASE = (
    b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
    + RELEASE
    + b"\n-----BEGIN PGP SIGNATURE-----\n\niQIz\n-----END PGP SIGNATURE-----\n"
)
PREFERENCES = (
    b"Package: *\nPin: release a=stable-security\nPin-Priority: 900\n\n"
    b"Package: bar libfoo*\nPin: version 2.0*\nPin-Priority: -1\n\n"
    b"Explanation: x\nPackage: /^half/\nPin: origin deb.debian.org\nPin-Priority: 1001\n"
)
APT_CONF = (
    b'APT::Default-Release "bookworm";\nAPT { Get { Assume-Yes "true"; }; };\n'
    b'// comment\n#clear APT::Update;\nDir::Bin::ischroot "/bin/false";\n'
)
LISTS_PREFIX = "deb.debian.org_debian-security_dists_bookworm-security_"


def compressed(kind: str, data: bytes) -> bytes:
    if kind == ".gz":
        return gzip.compress(data, mtime=0)
    if kind == ".xz":
        return lzma.compress(data)
    if kind == ".lz4":
        import lz4.frame

        return bytes(lz4.frame.compress(data))
    return data


def apt_root(
    base: Path,
    status: bytes = STATUS,
    packages: bytes = PACKAGES,
    release: bytes = RELEASE,
    suffix: str = "",
    in_release: bool = False,
    preferences: bytes = PREFERENCES,
    apt_conf: bytes = APT_CONF,
) -> AptPackageManager:
    """A Debian root with one security list; the apt adapter over it (no cache, no processes)."""
    (base / "etc/apt/preferences.d").mkdir(parents=True)
    (base / "etc/apt/apt.conf.d").mkdir(parents=True)
    (base / "var/lib/dpkg").mkdir(parents=True)
    lists = base / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    (base / "etc/os-release").write_bytes(OS_RELEASE)
    (base / "etc/apt/preferences").write_bytes(preferences)
    (base / "etc/apt/apt.conf").write_bytes(apt_conf)
    (base / "var/lib/dpkg/status").write_bytes(status)
    (lists / f"{LISTS_PREFIX}{'In' if in_release else ''}Release").write_bytes(release)
    (lists / f"{LISTS_PREFIX}updates_main_binary-amd64_Packages{suffix}").write_bytes(packages)
    return AptPackageManager(str(base), runner=FakeRunner("amd64\n"), cache_dir=None)


ODD_FIELDS = st.sampled_from([v.decode("utf-8", "replace") for v in FIELD_VALUES])
ODD_VALUES = st.one_of(ODD_FIELDS, ODD_FIELDS, st.text(max_size=12))


def one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


@st.composite
def deb822(draw: st.DrawFn, fields: Mapping[str, Sequence[str]]) -> bytes:
    """Paragraphs of ``fields`` (name → usual values), some values odd, some fields left out."""
    paragraphs = []
    for _ in range(draw(st.integers(1, 5))):
        lines = []
        for name, usual in fields.items():
            if name != "Package" and draw(st.integers(0, 4)) == 0:
                continue
            value = draw(st.one_of(st.sampled_from(usual), ODD_VALUES))
            lines.append(f"{name}: {one_line(value)}")
        paragraphs.append("\n".join(lines))
    return ("\n\n".join(paragraphs) + "\n").encode()


NAMES = ("libfoo1", "bar", "half", "dpkg", "gone")
PACKAGES_FIELDS = {
    "Package": NAMES,
    "Version": ("1.0-1+deb12u1", "2:2.0-1", "3.1-1", "1.0-1", "0.9"),
    "Architecture": ("amd64", "all", "arm64"),
    "Source": ("foo", "foo (1.0-1)", "bar (2:2.0)"),
    "Phased-Update-Percentage": ("0", "50", "100"),
    "Multi-Arch": ("same", "foreign"),
}
STATUS_FIELDS = {
    **PACKAGES_FIELDS,
    "Status": ("install ok installed", "deinstall ok config-files", "install ok half-installed"),
}


def test_apt_root_fixture_scans(tmp_path: Path) -> None:
    """The seed root is valid: the fuzz tests start from something the adapter reads."""
    inventory = apt_root(tmp_path).collect()
    assert {ip.package.name for ip in inventory.installed} >= {"libfoo1", "bar", "dpkg"}
    assert inventory.updates


@FUZZ
@given(status=st.one_of(fuzzed_bytes([STATUS]), deb822(STATUS_FIELDS)))
@shows
def test_dpkg_status(tmp_path: Path, status: bytes) -> None:
    """``AptPackageManager.collect`` over a fuzzed ``var/lib/dpkg/status``."""
    with scratch(tmp_path) as base:
        contract(apt_root(Path(base), status=status).collect)


@FUZZ
@given(
    suffix=st.sampled_from(("", ".gz", ".xz", ".lz4")),
    plain=st.one_of(fuzzed_bytes([PACKAGES]), deb822(PACKAGES_FIELDS)),
    after=st.booleans(),
    data=st.data(),
)
@shows
def test_apt_packages_index(
    tmp_path: Path, suffix: str, plain: bytes, after: bool, data: st.DataObject
) -> None:
    """``AptPackageManager.collect`` over a fuzzed ``Packages`` list, plain or compressed (the
    compressed bytes fuzzed too)."""
    packages = compressed(suffix, plain)
    if after and suffix:
        packages = drawn(data, mutated(packages), "compressed")
    with scratch(tmp_path) as base:
        contract(apt_root(Path(base), packages=packages, suffix=suffix).collect)


@FUZZ
@given(in_release=st.booleans(), data=st.data())
@shows
def test_apt_release_file(tmp_path: Path, in_release: bool, data: st.DataObject) -> None:
    """``AptPackageManager.collect`` (``find_package_lists``) over a fuzzed ``Release`` or
    clear-signed ``InRelease`` file."""
    release = drawn(data, fuzzed_bytes([IN_RELEASE if in_release else RELEASE]), "release")
    with scratch(tmp_path) as base:
        contract(apt_root(Path(base), release=release, in_release=in_release).collect)


@FUZZ
@given(preferences=fuzzed_bytes([PREFERENCES]), apt_conf=fuzzed_bytes([APT_CONF]))
@shows
def test_apt_preferences_and_conf(tmp_path: Path, preferences: bytes, apt_conf: bytes) -> None:
    """``collect`` over a fuzzed ``etc/apt/preferences`` and ``apt.conf`` (and the two parsers
    alone: ``parse_preferences``, ``parse_apt_conf``)."""
    contract(lambda: parse_preferences(decoded(preferences)))
    contract(lambda: parse_apt_conf(decoded(apt_conf)))
    with scratch(tmp_path) as base:
        root = apt_root(Path(base), preferences=preferences, apt_conf=apt_conf)
        contract(root.collect)


CHANGELOG = (
    b"foo (1.0-1+deb12u1) bookworm-security; urgency=high\n\n"
    b"  * Fix CVE-2024-0001 and CVE-2024-0002.\n\n"
    b" -- Jane Doe <jane@example.org>  Mon, 03 Jun 2024 10:00:00 +0200\n\n"
    b"foo (1.0-1) unstable; urgency=medium\n\n  * Initial release.\n\n"
    b" -- Jane Doe <jane@example.org>  Sat, 01 Jan 2022 00:00:00 +0000\n"
)


@FUZZ
@given(text=fuzzed_bytes([CHANGELOG]))
@shows
def test_debian_changelog(text: bytes) -> None:
    """``parse_changelog`` / ``newest_entry_date`` over a fuzzed ``changelog.Debian``."""
    contract(lambda: parse_changelog(decoded(text)))
    contract(lambda: newest_entry_date(decoded(text)))


@FUZZ
@given(text=fuzzed_bytes([OS_RELEASE, b'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n']))
@shows
def test_os_release(tmp_path: Path, text: bytes) -> None:
    """``parse_os_release`` and ``read_os_info`` of a root with a fuzzed ``etc/os-release``."""
    from patchwarden.adapters.os.osrelease import read_os_info

    contract(lambda: parse_os_release(decoded(text)))
    with scratch(tmp_path) as base:
        (Path(base) / "etc").mkdir()
        (Path(base) / "etc/os-release").write_bytes(text)
        contract(lambda: read_os_info(base))


# -- rpm: updateinfo, repomd, the rpm database read through the image reader --------------

UPDATEINFO = seeds("updateinfo-*.xml", "feeds/alas/updateinfo-*.xml")


@FUZZ
@given(xml=fuzzed_bytes(UPDATEINFO))
@shows
def test_updateinfo(xml: bytes) -> None:
    """``iter_notices`` (then ``index_notices``, ``notice_facts``) over a fuzzed
    updateinfo.xml; a bad document is an ``EnvironmentProblem``."""

    def parse() -> object:
        notices = list(iter_notices(io.BytesIO(xml), "updateinfo.xml"))
        index_notices(notices)
        return notice_facts(notices)

    contract(parse)


@FUZZ
@given(xml=fuzzed_bytes(seeds("feeds/alas/repomd.xml")))
@shows
def test_repomd(xml: bytes) -> None:
    """``parse_repomd`` over a fuzzed repomd.xml."""
    contract(lambda: parse_repomd(xml, "repomd.xml"))


RPM_QUERY = (
    b"bash\t0\t5.2.15\t3.amzn2023.0.2\tx86_64\tbash-5.2.15-3.amzn2023.0.2.src.rpm\t1700000000\n"
    b"gpg-pubkey\t0\td832f63c\t5ab4b4e4\t(none)\t(none)\t1700000000\n"
    b"openssl-libs\t1\t3.0.8\t1.amzn2023.0.12\tx86_64\topenssl-3.0.8-1.amzn2023.0.12.src.rpm\t1\n"
    b"kernel\t0\t6.1.0\t1\tx86_64\t(none)\t1700000001\n"
)


@FUZZ
@given(stdout=fuzzed_bytes([RPM_QUERY]))
@shows
def test_rpm_headers_via_image_reader(stdout: bytes) -> None:
    """``image.packages.rpm_packages``: an image's rpm database, queried by (a fake) ``rpm``
    whose fuzzed ``--queryformat`` output becomes the installed packages."""
    files = LayerFiles()
    layer = tar_of([("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\x00")])
    apply_layer(files, io.BytesIO(layer), "layer")
    contract(lambda: rpm_packages(files, FakeRunner(decoded(stdout))))


# -- zypper ---------------------------------------------------------------------------------

ZYPPER_PATCHES = b"""<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<update-status version="0.6">
<update-list>
<update kind="patch" name="SUSE-SLE-Module-Basesystem-15-SP5-2025-101" edition="1" arch="noarch"
 status="needed" category="security" severity="critical" pkgmanager="false" restart="false"
 interactive="false"><status-since time_t="1796509238" text="2026-12-05T22:20:38Z"/>
<summary>Security update for foo</summary><description>fix</description><license/>
<source url="file:/tmp/zx/repo" alias="r1"/>
<issue-date time_t="1736510400" text="2025-01-10T12:00:00Z"/>
<issue-list><issue type="cve" id="CVE-2025-1111"><title>CVE-2025-1111</title></issue>
<issue type="bugzilla" id="1230001"><title>bug</title></issue></issue-list></update>
<update kind="patch" name="openSUSE-2025-7" edition="1" arch="noarch" status="optional"
 category="optional" severity="unspecified"><source url="file:/r" alias="r2"/>
<issue-list/></update>
</update-list>
</update-status>
</stream>
"""


@st.composite
def zypper_updates(draw: st.DrawFn) -> bytes:
    """A ``list-patches`` stream of patches whose attributes are usual or odd."""

    def value(*usual: str) -> str:
        text = draw(st.one_of(st.sampled_from(usual), ODD_VALUES))
        return "".join(c for c in text if c.isprintable()).replace('"', "&quot;").replace("<", "")

    updates = []
    for _ in range(draw(st.integers(1, 3))):
        issue = f'<issue type="{value("cve", "bugzilla")}" id="{value("CVE-2025-1111", "1")}"/>'
        updates.append(
            f'<update kind="{value("patch")}" name="{value("p-1")}" '
            f'category="{value("security", "optional")}" severity="{value("critical", "")}">'
            f'<source alias="{value("r1")}"/><issue-date time_t="{value("1736510400", "0")}"/>'
            f"<issue-list>{issue}</issue-list></update>"
        )
    return f"<stream><update-status><update-list>{''.join(updates)}</update-list>".encode() + (
        b"</update-status></stream>"
    )


@FUZZ
@given(xml=st.one_of(fuzzed_bytes([ZYPPER_PATCHES]), zypper_updates()))
@shows
def test_zypper_patches(xml: bytes) -> None:
    """``zypper --xmlout list-patches`` output (the patch metadata of the repositories):
    ``execute.stream``, then ``patches.parse_patch`` and ``patch_facts``."""
    from patchwarden.adapters.os.zypper.execute import stream
    from patchwarden.adapters.os.zypper.patches import parse_patch, patch_facts

    def parse() -> object:
        elements = stream(decoded(xml))
        found = [parse_patch(u) for e in elements for u in e.iter("update")]
        return patch_facts(found)

    contract(parse)


# -- apk ------------------------------------------------------------------------------------

APK_INSTALLED = (
    b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\n"
    b"U:https://musl.libc.org/\nL:MIT\no:musl\nm:Maintainer <m@example.org>\nt:1700000000\n"
    b"c:abc\nD:so:libc.musl-x86_64.so.1\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl.so.1\n"
    b"a:0:0:755\nZ:Q1xyz=\n\n"
    b"P:busybox\nV:1.36.1-r5\nA:x86_64\nt:1700000001\nD:musl\n"
)


@FUZZ
@given(text=fuzzed_bytes([APK_INSTALLED]))
@shows
def test_apk_database(text: bytes) -> None:
    """``apk.db.parse`` over a fuzzed ``lib/apk/db/installed``."""
    contract(lambda: apk_db.parse(decoded(text), "installed"), InputError)


@FUZZ
@given(
    text=fuzzed_bytes(
        [b"https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n@edge http://x/edge/testing\n"]
    )
)
@shows
def test_apk_repositories(text: bytes) -> None:
    """``parse_repositories`` over a fuzzed ``etc/apk/repositories``."""
    contract(lambda: parse_repositories(decoded(text), "repositories"))


# -- vulnerability feeds --------------------------------------------------------------------


def feed_parse(tmp_path: Path, feed: str, name: str, data: bytes) -> None:
    """``FEEDS[feed].parse`` (what ``db update`` calls) over a file with ``data``; the
    advisories it yields are all read."""
    warnings: list[str] = []
    with scratch(tmp_path) as base:
        path = Path(base) / name
        path.write_bytes(data)
        contract(lambda: sum(1 for _ in FEEDS[feed].parse(path, warnings.append)))


@FUZZ
@given(data=json_fuzzed(seeds("feeds/debian-tracker/*.json")))
@shows
def test_feed_debian_tracker(tmp_path: Path, data: bytes) -> None:
    """Debian security tracker JSON (``debian_tracker.parse``)."""
    feed_parse(tmp_path, "debian-tracker", "json", data)


OSV = seeds("feeds/osv/*.json")


@FUZZ
@given(data=json_fuzzed(OSV))
@shows
def test_feed_osv_record(tmp_path: Path, data: bytes) -> None:
    """One OSV record (``osv.parse`` of a ``.json``)."""
    feed_parse(tmp_path, "osv-debian", "DSA-0000-1.json", data)


def zip_of(members: Sequence[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


@FUZZ
@given(
    records=st.lists(json_fuzzed(OSV), min_size=1, max_size=3),
    after=st.booleans(),
    data=st.data(),
)
@shows
def test_feed_osv_zip(
    tmp_path: Path, records: list[bytes], after: bool, data: st.DataObject
) -> None:
    """An OSV ``all.zip`` dump (``osv.parse`` of a ``.zip``), its records and the zip bytes
    fuzzed."""
    archive = zip_of([(f"R-{i}.json", record) for i, record in enumerate(records)])
    if after:
        archive = drawn(data, mutated(archive), "zip")
    feed_parse(tmp_path, "osv-debian", "all.zip", archive)


ALPINE_YAML = seeds("feeds/alpine-secdb/*.yaml")
ALPINE_JSON = seeds("feeds/alpine-secdb/*.json", "alpine/secdb-v3.19/*.json")


@FUZZ
@given(
    data=st.one_of(
        json_fuzzed(ALPINE_JSON).map(lambda d: ("main.json", d)),
        fuzzed_bytes(ALPINE_YAML).map(lambda d: ("main.yaml", d)),
        st.sampled_from([yaml.safe_load(d) for d in ALPINE_YAML])
        .flatmap(tree_mutated)
        .map(lambda v: ("main.yaml", yaml.safe_dump(v).encode())),
    )
)
@shows
def test_feed_alpine_secdb(tmp_path: Path, data: tuple[str, bytes]) -> None:
    """Alpine secdb, JSON and YAML (``alpine_secdb.parse``)."""
    feed_parse(tmp_path, "alpine-secdb", *data)


NVD = seeds("feeds/nvd/*.json")


@FUZZ
@given(data=json_fuzzed(NVD), gz=st.booleans())
@shows
def test_feed_nvd(tmp_path: Path, data: bytes, gz: bool) -> None:
    """NVD CVE 2.0 JSON, plain or gzip (``nvd.parse``)."""
    if gz:
        feed_parse(tmp_path, "nvd", "nvdcve-2.0-2024.json.gz", gzip.compress(data, mtime=0))
    else:
        feed_parse(tmp_path, "nvd", "nvdcve-2.0-2024.json", data)


@FUZZ
@given(data=json_fuzzed(seeds("feeds/cisa-kev/*.json")))
@shows
def test_feed_cisa_kev(tmp_path: Path, data: bytes) -> None:
    """CISA KEV catalogue (``kev.parse``)."""
    feed_parse(tmp_path, "cisa-kev", "known_exploited_vulnerabilities.json", data)


@FUZZ
@given(data=fuzzed_bytes(seeds("feeds/epss/*.csv")), gz=st.booleans())
@shows
def test_feed_epss(tmp_path: Path, data: bytes, gz: bool) -> None:
    """FIRST EPSS CSV, plain or gzip (``epss.parse``)."""
    if gz:
        feed_parse(tmp_path, "epss", "epss_scores-current.csv.gz", gzip.compress(data, mtime=0))
    else:
        feed_parse(tmp_path, "epss", "epss_scores-current.csv", data)


@FUZZ
@given(data=fuzzed_bytes(seeds("feeds/alas/updateinfo-*.xml")), gz=st.booleans())
@shows
def test_feed_alas(tmp_path: Path, data: bytes, gz: bool) -> None:
    """Amazon Linux ALAS updateinfo, plain or gzip (``alas.parse``)."""
    if gz:
        feed_parse(tmp_path, "alas", "updateinfo.xml.gz", gzip.compress(data, mtime=0))
    else:
        feed_parse(tmp_path, "alas", "updateinfo.xml", data)


@FUZZ
@given(data=json_fuzzed(seeds("feeds/redhat-csaf/cve-2024-0208.json")))
@shows
def test_feed_redhat_csaf(tmp_path: Path, data: bytes) -> None:
    """One Red Hat CSAF VEX document (``redhat_csaf.parse``)."""
    feed_parse(tmp_path, "redhat-csaf", "cve-2024-0208.json", data)


# -- documents ------------------------------------------------------------------------------

DOCUMENTS = seeds("*/*.yaml", base=EXAMPLES_DIR)
DOCUMENT_TREES = [tree for data in DOCUMENTS for tree in yaml.safe_load_all(data) if tree]
SUPPRESSION = {
    "apiVersion": "patchwarden/v1",
    "kind": "Suppression",
    "metadata": {"name": "accept-foo"},
    "spec": {
        "Reason": "not reachable",
        "VulnerabilityIds": ["CVE-2024-0001"],
        "Packages": ["foo"],
        "NodeTags": {"env": "dev"},
        "ExpiresAt": "2030-01-01",
    },
}


def load_document_bytes(tmp_path: Path, name: str, data: bytes) -> None:
    with scratch(tmp_path) as base:
        path = Path(base) / name
        path.write_bytes(data)
        contract(lambda: load_documents(path), InputError)


@FUZZ
@given(
    data=st.one_of(
        fuzzed_bytes(DOCUMENTS).map(lambda d: ("doc.yaml", d)),
        st.sampled_from([*DOCUMENT_TREES, SUPPRESSION])
        .flatmap(tree_mutated)
        .map(lambda v: ("doc.yaml", yaml.safe_dump(v).encode())),
        st.sampled_from([*DOCUMENT_TREES, SUPPRESSION])
        .flatmap(tree_mutated)
        .map(lambda v: ("doc.json", json.dumps(v).encode())),
    )
)
@shows
def test_documents(tmp_path: Path, data: tuple[str, bytes]) -> None:
    """``load_documents`` over a fuzzed YAML or JSON file of documents (baselines, windows,
    governance rules/packs, components, images, deployments, suppressions): an
    ``InputError``, nothing else."""
    load_document_bytes(tmp_path, *data)


AWS_BASELINE = seeds("aws-get-patch-baseline.json")


@FUZZ
@given(data=json_fuzzed(AWS_BASELINE), strict=st.booleans())
@shows
def test_aws_baseline_json(data: bytes, strict: bool) -> None:
    """``import_aws_json`` over fuzzed ``aws ssm get-patch-baseline`` output."""
    contract(lambda: import_aws_json(decoded(data), "baseline.json", aws_strict=strict), InputError)


# -- schedules ------------------------------------------------------------------------------

CRON_ITEMS = (
    "*",
    "?",
    "0",
    "5",
    "59",
    "60",
    "-1",
    "0/5",
    "*/15",
    "1-5",
    "5-1",
    "1,2,3",
    "L",
    "L-3",
    "LW",
    "15W",
    "MON",
    "SUN-SAT",
    "MON#2",
    "6L",
    "JAN-DEC",
    "FEB",
    "2024",
    "1970-2199",
    "2099/5",
    "31",
    "29",
    "",
    "²",
    "٣",
)
SCHEDULE_SEEDS = (
    "cron(0 2 ? * SUN *)",
    "cron(0/30 * * * ? *)",
    "cron(0 0 L * ? *)",
    "cron(15 10 ? * 6L 2030)",
    "rate(5 minutes)",
    "rate(1 day)",
    "at(2030-01-01T00:00:00)",
)


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.sampled_from(CRON_ITEMS), min_size=4, max_size=7))
    return "cron(" + " ".join(fields) + ")"


SCHEDULES = st.one_of(
    cron_expressions(),
    st.sampled_from(SCHEDULE_SEEDS),
    st.sampled_from([s.encode() for s in SCHEDULE_SEEDS]).flatmap(mutated).map(decoded),
    st.builds(
        "rate({} {})".format,
        st.sampled_from(("0", "1", "2", "1000000", "1000001", "²", "٣", "01", "-5")),
        st.sampled_from(("minute", "minutes", "hour", "hours", "day", "days", "weeks", "")),
    ),
    st.text(max_size=40),
)


@FUZZ
@given(
    expression=SCHEDULES,
    timezone=st.sampled_from(("UTC", "Europe/Berlin", "America/St_Johns", "Nowhere/Else", "")),
    offset=st.one_of(st.none(), st.integers(-1, 8)),
)
@shows
def test_schedule_expressions(expression: str, timezone: str, offset: int | None) -> None:
    """``parse_schedule``, then what a window does with it: ``validate_window``,
    ``check_fires``, ``next_runs`` (bounded time: a cron no date matches must not hang)."""
    from datetime import UTC, datetime

    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST change in Europe

    def use() -> object:
        schedule = parse_schedule(expression)
        validate_window(3, 1, schedule, offset)
        check_fires(schedule, now, timezone=timezone)
        return next_runs(expression, after=now, count=3, timezone=timezone)

    contract(use, InputError)


# -- OCI images: index, manifests, config, tar layers --------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(members: Sequence[tuple[str, bytes | str | None]], kinds: Sequence[str] = ()) -> bytes:
    """A tar of regular files (bytes), symlinks (``"->target"``), hard links (``"=>target"``),
    directories (``None``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE if content.startswith("->") else tarfile.LNKTYPE
                info.linkname = content[2:]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


BASE_LAYER: list[tuple[str, bytes | str | None]] = [
    ("etc", None),
    ("etc/os-release", OS_RELEASE),
    ("var/lib/dpkg/status", STATUS),
    ("var/lib/dpkg/status.d/extra", b"Package: tzdata\nVersion: 2024a-1\nArchitecture: all\n"),
]
CONFIG = {"architecture": "amd64", "os": "linux", "config": {"Labels": {"team": "x"}}}


def write_layout(
    base: Path,
    layers: Sequence[bytes],
    config: bytes | None = None,
    manifest: Callable[[dict[str, Any]], bytes] | None = None,
    index: Callable[[dict[str, Any]], bytes] | None = None,
) -> str:
    """An OCI layout at ``base`` with one image tagged ``v1``; ``manifest``/``index`` turn
    the valid document into the bytes written (every digest made to match)."""
    blobs = base / "blobs/sha256"
    blobs.mkdir(parents=True)
    (base / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(data: bytes) -> dict[str, Any]:
        (blobs / sha(data)[7:]).write_bytes(data)
        return {"digest": sha(data), "size": len(data)}

    config_data = json.dumps(CONFIG).encode() if config is None else config
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config_data)},
        "layers": [{"mediaType": LAYER_GZIP, **blob(layer)} for layer in layers],
    }
    manifest_data = json.dumps(document).encode() if manifest is None else manifest(document)
    entry = {
        "mediaType": OCI_MANIFEST,
        **blob(manifest_data),
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
    }
    top = {"schemaVersion": 2, "manifests": [entry]}
    (base / "index.json").write_bytes(json.dumps(top).encode() if index is None else index(top))
    return f"oci:{base}:v1"


def read_image(ref: str) -> object:
    return OciImageReader(platform="linux/amd64", runner=FakeRunner()).read(ref)


def test_oci_layout_fixture_reads(tmp_path: Path) -> None:
    """The seed image is valid: the fuzz tests start from something the reader reads."""
    ref = write_layout(tmp_path / "img", [gzip.compress(tar_of(BASE_LAYER), mtime=0)])
    contents = read_image(ref)
    assert getattr(contents, "inventory", None) is not None


@FUZZ
@given(which=st.sampled_from(("index", "manifest")), data=st.data())
@shows
def test_oci_index_and_manifest(tmp_path: Path, which: str, data: st.DataObject) -> None:
    """``OciImageReader.read`` of an OCI layout whose ``index.json`` or image manifest is
    fuzzed (as a tree and as bytes; digests kept matching so the reader goes on)."""

    def fuzz(document: dict[str, Any]) -> bytes:
        fuzzed: bytes = drawn(data, json_fuzzed([json.dumps(document).encode()]), which)
        return fuzzed

    layer = gzip.compress(tar_of(BASE_LAYER), mtime=0)
    with scratch(tmp_path) as base:
        if which == "index":
            ref = write_layout(Path(base) / "img", [layer], index=fuzz)
        else:
            ref = write_layout(Path(base) / "img", [layer], manifest=fuzz)
        contract(lambda: read_image(ref), InputError)


@FUZZ
@given(config=json_fuzzed([json.dumps(CONFIG).encode()]))
@shows
def test_oci_config(tmp_path: Path, config: bytes) -> None:
    """``parse_config`` and ``OciImageReader.read`` with a fuzzed image config."""
    contract(lambda: parse_config(config, "config"), InputError)
    layer = gzip.compress(tar_of(BASE_LAYER), mtime=0)
    with scratch(tmp_path) as base:
        ref = write_layout(Path(base) / "img", [layer], config=config)
        contract(lambda: read_image(ref), InputError)


LAYER_PATHS = (
    "etc/os-release",
    "usr/lib/os-release",
    "etc",
    "usr/lib",
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/x",
    "var/lib/dpkg",
    "var/lib/dpkg/status.d",
    "lib/apk/db/installed",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm",
    "etc/.wh.os-release",
    "var/lib/.wh..wh..opq",
    "./etc/../etc/os-release",
    "/etc/os-release",
    "../../etc/os-release",
    "",
    ".",
)
LINK_TARGETS = ("->/etc", "->..", "->.", "->os-release", "->../usr/lib", "=>etc/os-release")


@st.composite
def layer_members(draw: st.DrawFn) -> list[tuple[str, bytes | str | None]]:
    members = list(BASE_LAYER) if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        path = draw(st.sampled_from(LAYER_PATHS))
        content = draw(
            st.one_of(
                st.none(),
                st.sampled_from(LINK_TARGETS),
                st.sampled_from((OS_RELEASE, STATUS, APK_INSTALLED)).flatmap(mutated),
            )
        )
        members.insert(draw(st.integers(0, len(members))), (path, content))
    return members


@FUZZ
@given(
    layers=st.lists(layer_members(), min_size=1, max_size=3),
    compress=st.booleans(),
    after=st.booleans(),
    data=st.data(),
)
@shows
def test_oci_tar_layers(
    tmp_path: Path,
    layers: list[list[tuple[str, bytes | str | None]]],
    compress: bool,
    after: bool,
    data: st.DataObject,
) -> None:
    """``OciImageReader.read`` of layers with random files, symlinks (loops too), hard links,
    whiteouts; then the layer bytes themselves fuzzed (tar and gzip framing)."""
    blobs = [tar_of(members) for members in layers]
    if compress:
        blobs = [gzip.compress(b, mtime=0) for b in blobs]
    if after:
        at = drawn(data, st.integers(0, len(blobs) - 1), "layer")
        blobs[at] = drawn(data, mutated(blobs[at]), "bytes")
    with scratch(tmp_path) as base:
        ref = write_layout(Path(base) / "img", blobs)
        contract(lambda: read_image(ref), InputError)


# -- versions -------------------------------------------------------------------------------

VERSION_SEEDS = (
    b"1:2.3.4-5+deb12u1",
    b"1.0~rc1",
    b"2.0_p1-r3",
    b"1.0^git1.el9",
    b"0:1.2-3.amzn2023",
    b"1.2.3_rc1-r0",
)


@FUZZ
@given(
    scheme=st.sampled_from(SCHEMES),
    a=fuzzed_bytes(VERSION_SEEDS, max_size=24).map(decoded),
    b=st.one_of(st.sampled_from([v.decode() for v in VERSION_SEEDS]), st.text(max_size=24)),
)
@shows
def test_version_strings(scheme: str, a: str, b: str) -> None:
    """``versions.compare`` of versions read from indices: a malformed one is an
    ``InputError``."""
    contract(lambda: compare(scheme, a, b), InputError)
    contract(lambda: compare(scheme, b, a), InputError)


@pytest.mark.parametrize("feed", ["debian-tracker", "osv-debian", "nvd", "cisa-kev", "epss"])
def test_feed_empty_file(tmp_path: Path, feed: str) -> None:
    """An empty download is the commonest bad input: each feed refuses it in one line."""
    path = tmp_path / {"nvd": "x.json", "epss": "x.csv", "osv-debian": "x.json"}.get(feed, "json")
    path.write_bytes(b"")
    with pytest.raises(PatchwardenError):
        list(FEEDS[feed].parse(path, lambda _: None))
