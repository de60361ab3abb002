"""The Amazon Linux ALAS feed: updateinfo parsing, the mirror.list → repomd.xml → updateinfo
walk (with a scripted fetch), classification of raw files, malformed input."""

from __future__ import annotations

import bz2
import gzip
import lzma
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.feeds import FEEDS, alas, classify
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

from .data import DATA

ALAS = DATA / "alas"
AL2023 = ALAS / "updateinfo-al2023.xml"
CDN = "https://cdn.amazonlinux.com"
GUID_2023 = "46ff4933b89b948580f3b223b826fee3c1830b85885db3f7f90502c0ac99698c"
HASH_2 = "221a4af09d96ac4e34202cc7bdfa252410419542548cc685dc86ed1c17ca4204"


def parse(path: Path) -> tuple[list[Advisory], list[str]]:
    warnings: list[str] = []
    return list(alas.parse(path, warnings.append)), warnings


def by_key(advisories: list[Advisory]) -> dict[tuple[str, str], Advisory]:
    return {(a.package, a.id): a for a in advisories}


def notice(
    body: str, *, kind: str = "security", notice_id: str = "ALAS2023-2099-001", refs: str = ""
) -> str:
    return (
        f'<update type="{kind}" status="final"><id>{notice_id}</id><severity>low</severity>'
        f'<issued date="2099-01-02 03:04"/><references>{refs}</references>'
        f"<pkglist><collection>{body}</collection></pkglist></update>"
    )


def pkg(name: str, version: str, release: str, epoch: str = "0", arch: str = "x86_64") -> str:
    return (
        f'<package name="{name}" epoch="{epoch}" version="{version}" release="{release}" '
        f'arch="{arch}"/>'
    )


CVE_REF = '<reference type="cve" id="CVE-2099-0001" href="https://example/CVE-2099-0001"/>'


def write(tmp_path: Path, *notices: str, name: str = "updateinfo.xml") -> Path:
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" ?>\n<updates>{"".join(notices)}</updates>\n')
    return path


def test_al2023_notices_become_one_advisory_per_package_name() -> None:
    found, warnings = parse(AL2023)
    assert warnings == []
    assert len(found) == 10
    keys = by_key(found)
    curl = keys[("curl-minimal", "ALAS2023-2024-499")]
    assert curl == Advisory(
        id="ALAS2023-2024-499",
        source="alas",
        ecosystem="Amazon Linux:2023",
        package="curl-minimal",
        status=AdvisoryStatus.FIXED,
        fixed_version="8.5.0-1.amzn2023.0.1",
        aliases=("CVE-2023-46218", "CVE-2023-46219"),
        vendor_severity="important",
        published=datetime(2024, 2, 1, 0, 58, tzinfo=UTC),
        modified=datetime(2024, 2, 5, 23, 27, tzinfo=UTC),
    )
    later = keys[("curl-minimal", "ALAS2023-2024-512")]
    assert (later.vendor_severity, later.aliases, later.modified) == (
        "medium",
        ("CVE-2024-0853",),
        None,
    )
    # one advisory per name whatever the architectures; the src rpm's name is one of them
    rsyslog = [a for a in found if a.id == "ALAS2023-2023-001"]
    assert sorted(a.package for a in rsyslog) == ["rsyslog", "rsyslog-doc", "rsyslog-logrotate"]
    assert {a.vendor_severity for a in rsyslog} == {"important"}  # "Important" lower-cased
    multipath = {a.package for a in found if a.id == "ALAS2023-2023-126"}
    assert multipath == {
        "device-mapper-multipath",
        "device-mapper-multipath-libs",
        "kpartx",
        "libdmmp",
    }


def test_al2_release_tag() -> None:
    found, warnings = parse(ALAS / "updateinfo-al2.xml")
    assert warnings == [] and len(found) == 4
    kernel = by_key(found)[("kernel", "ALAS2-2018-939")]
    assert (kernel.ecosystem, kernel.fixed_version, kernel.vendor_severity) == (
        "Amazon Linux:2",
        "4.9.76-38.79.amzn2",
        "critical",
    )
    assert kernel.aliases == ("CVE-2017-5754", "CVE-2017-5715")


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".xz", lzma.compress), (".bz2", bz2.compress)],
)
def test_compressed_files_read_the_same(tmp_path: Path, suffix: str, compress: object) -> None:
    packed = tmp_path / f"0123-updateinfo.xml{suffix}"
    packed.write_bytes(compress(AL2023.read_bytes()))  # type: ignore[operator]
    assert parse(packed) == parse(AL2023)


@pytest.mark.parametrize(
    ("release", "notice_id", "expected"),
    [
        ("1.amzn2023.0.1", "ALAS2023-2024-499", "Amazon Linux:2023"),
        ("38.79.amzn2", "ALAS2-2018-939", "Amazon Linux:2"),
        ("1.amzn2.0.1", "ALAS2KERNEL-5.10-2023-001", "Amazon Linux:2"),
        ("2.amzn2022", "ALAS2022-2022-001", "Amazon Linux:2022"),
        ("5.el7", "ALAS2023-2024-1", "Amazon Linux:2023"),  # no tag: the id's prefix
        ("5.el7", "ALAS2GOLANG1.19-2023-001", "Amazon Linux:2"),
        ("1.amzn1", "ALAS-2018-1000", None),  # Amazon Linux AMI: no such ecosystem
        ("1", "ALAS-2023-126", None),
        ("1", "RHSA-2024:1234", None),
    ],
)
def test_release_of(release: str, notice_id: str, expected: str | None) -> None:
    assert alas.release_of(release, notice_id) == expected


def test_notice_selection_and_versions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        notice(pkg("bash", "5.2", "1.amzn2023"), kind="bugfix", notice_id="ALAS2023-2099-010"),
        notice(pkg("zsh", "5.9", "1.amzn2023"), kind="bugfix", refs=CVE_REF),
        notice(
            pkg("vim", "9.0", "1.amzn2023", epoch="2")
            + pkg("vim", "9.1", "1.amzn2023", epoch="2", arch="aarch64")
            + pkg("vim", "9.0", "2.amzn2023", epoch="2", arch="i686"),
            notice_id="ALAS2023-2099-011",
            refs=CVE_REF,
        ),
        notice("", notice_id="ALAS2023-2099-012"),
        notice(pkg("old", "1.0", "1.amzn1"), notice_id="ALAS-2099-013"),
        notice(pkg("broken", "", "1.amzn2023"), notice_id="ALAS2023-2099-014"),
    )
    found, warnings = parse(path)
    assert [(a.package, a.id, a.fixed_version) for a in found] == [
        ("zsh", "ALAS2023-2099-001", "5.9-1.amzn2023"),  # a bugfix that names a CVE counts
        ("vim", "ALAS2023-2099-011", "2:9.1-1.amzn2023"),  # the highest of the pkglist
    ]
    assert found[0].aliases == ("CVE-2099-0001",)
    assert found[0].published == datetime(2099, 1, 2, 3, 4, tzinfo=UTC)
    assert warnings == [
        "alas: updateinfo.xml: malformed package entries dropped: 1 "
        "(e.g. ALAS2023-2099-014 broken)",
        "alas: updateinfo.xml: notices without packages skipped: 1 (e.g. ALAS2023-2099-012)",
        "alas: updateinfo.xml: packages of an unknown Amazon Linux release dropped: 1 "
        "(e.g. old-1.0-1.amzn1)",
    ]


def test_an_empty_repository_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "updateinfo.xml"
    path.write_text('<?xml version="1.0"?>\n<updates/>\n')
    assert parse(path) == ([], ["alas: updateinfo.xml: no update notices (an empty repository?)"])


def corrupt_gzip(tmp_path: Path) -> Path:
    data = bytearray(gzip.compress(AL2023.read_bytes()))
    data[len(data) // 2 : len(data) // 2 + 40] = bytes(40)
    path = tmp_path / "u.xml.gz"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (
            lambda t: t.joinpath("u.xml.gz").write_bytes(gzip.compress(AL2023.read_bytes())[:500]),
            r"^alas: u\.xml\.gz: corrupt or truncated",
        ),
        (corrupt_gzip, r"^alas: u\.xml\.gz: corrupt"),
        (
            lambda t: t.joinpath("u.xml").write_text("<html><body>maintenance</html>"),
            r"^alas: u\.xml: not an updateinfo document \(root element <html>\)$",
        ),
        (
            lambda t: t.joinpath("u.xml").write_text("{}"),
            r"^alas: u\.xml: corrupt or truncated XML \(not well-formed \(invalid token\)",
        ),
        (lambda t: t.joinpath("u.xml").write_text(""), r"^alas: u\.xml: corrupt or truncated"),
        (
            lambda t: t.joinpath("u.xml").write_bytes((ALAS / "repomd.xml").read_bytes()),
            r"^alas: u\.xml: not an updateinfo document \(root element <repomd>\)$",
        ),
        (
            lambda t: t.joinpath("u.xml.zst").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20)),
            r"^alas: u\.xml\.zst: zstd-compressed: not supported",
        ),
    ],
    ids=["truncated-gzip", "corrupt-gzip", "html", "json", "empty", "repomd", "zstd"],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, make: object, problem: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    path = path if isinstance(path, Path) else next(tmp_path.iterdir())
    with pytest.raises(AdapterError, match=problem) as info:
        parse(path)
    assert "\n" not in str(info.value)


class Index:
    """A scripted ``fetch`` for :func:`alas.locate`: URL → body, recording the calls."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.files[url]


REPOMD = (ALAS / "repomd.xml").read_bytes()


def test_locate_walks_mirror_list_and_repomd() -> None:
    base = f"{CDN}/al2023/core/guids/{GUID_2023}/x86_64/"
    fetch = Index(
        {
            alas.MIRROR_LISTS[0]: (ALAS / "mirror.list").read_bytes(),
            f"{base}repodata/repomd.xml": REPOMD,
        }
    )
    assert alas.locate(alas.MIRROR_LISTS[0], fetch) == f"{base}repodata/updateinfo.xml.gz"
    assert fetch.calls == [alas.MIRROR_LISTS[0], f"{base}repodata/repomd.xml"]


def test_locate_al2_base_without_trailing_slash() -> None:
    base = f"{CDN}/2/core/2.0/x86_64/{HASH_2}/"
    fetch = Index(
        {
            alas.MIRROR_LISTS[1]: (ALAS / "mirror-al2.list").read_bytes(),
            f"{base}repodata/repomd.xml": REPOMD,
        }
    )
    assert alas.locate(alas.MIRROR_LISTS[1], fetch) == f"{base}repodata/updateinfo.xml.gz"


def test_locate_other_entry_points() -> None:
    direct = f"{CDN}/al2023/core/guids/x/x86_64/repodata/0a1b-updateinfo.xml.gz"
    fetch = Index({"https://mirror.example/al2023/repodata/repomd.xml": REPOMD})
    assert alas.locate(direct, fetch) == direct and fetch.calls == []  # the file itself
    expected = "https://mirror.example/al2023/repodata/updateinfo.xml.gz"
    assert alas.locate("https://mirror.example/al2023/", fetch) == expected  # a repository
    assert alas.locate("https://mirror.example/al2023/repodata/repomd.xml", fetch) == expected
    listed = Index(
        {
            "https://m.example/2/core/latest/aarch64/mirror.list": (
                b"# mirrors\n\nhttps://m.example/2/core/2.0/$basearch/abc\n"
            ),
            "https://m.example/2/core/2.0/aarch64/abc/repodata/repomd.xml": REPOMD,
        }
    )
    assert alas.locate("https://m.example/2/core/latest/aarch64/mirror.list", listed) == (
        "https://m.example/2/core/2.0/aarch64/abc/repodata/updateinfo.xml.gz"
    )


@pytest.mark.parametrize(
    ("mirror_list", "repomd", "problem"),
    [
        (b"", REPOMD, "empty mirror list"),
        (b"<html>Access Denied</html>\n", REPOMD, r"not a mirror list \(first line '<html>"),
        (b"\xff\xfe\x00", REPOMD, r"not a mirror list \(not text\)"),
        (
            b"https://m.example/base/\n",
            b"<html>",
            r"repomd.xml: corrupt or truncated XML \(no element found",
        ),
        (b"https://m.example/base/\n", b"<updates/>", "not a repomd.xml document"),
        (
            b"https://m.example/base/\n",
            REPOMD.replace(b'type="updateinfo"', b'type="modules"'),
            "publishes no updateinfo",
        ),
    ],
)
def test_locate_errors_are_one_line(mirror_list: bytes, repomd: bytes, problem: str) -> None:
    fetch = Index(
        {
            "https://m.example/mirror.list": mirror_list,
            "https://m.example/base/repodata/repomd.xml": repomd,
        }
    )
    with pytest.raises(AdapterError, match=problem) as info:
        alas.locate("https://m.example/mirror.list", fetch)
    assert str(info.value).startswith("https://m.example/") and "\n" not in str(info.value)


def test_registry_entry_and_classification(tmp_path: Path) -> None:
    spec = FEEDS["alas"]
    assert spec.urls == (
        "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
        "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
    )
    assert spec.default and spec.locator is alas.locate
    moved = spec.with_urls(("https://mirror.example/al2023/",))
    assert moved.locate("https://mirror.example/al2023/", Index({
        "https://mirror.example/al2023/repodata/repomd.xml": REPOMD
    })) == "https://mirror.example/al2023/repodata/updateinfo.xml.gz"  # fmt: skip
    assert FEEDS["osv-debian"].locate("https://x.example/all.zip", Index({})) == (
        "https://x.example/all.zip"
    )
    (first, *_) = spec.parse(AL2023, print)
    assert first.source == "alas"

    assert classify(AL2023) == "alas"
    assert classify(ALAS / "updateinfo-al2.xml") == "alas"
    assert classify(DATA.parent / "updateinfo-alas2023.xml") == "alas"
    packed = tmp_path / "0123-updateinfo.xml.gz"
    packed.write_bytes(gzip.compress(AL2023.read_bytes()))
    assert classify(packed) == "alas"
    rhel = write(tmp_path, notice(pkg("curl", "7.76.1", "29.el9_4"), notice_id="RHSA-2024:1234"))
    assert classify(rhel) is None  # someone else's updateinfo is not this feed
    assert classify(ALAS / "repomd.xml") is None
    assert classify(ALAS / "mirror.list") is None
