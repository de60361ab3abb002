"""Parsers of the dnf adapter on captured and real-shaped inputs: updateinfo.xml, repomd.xml,
repo files, dnf's transaction table, rpm query helpers."""

from __future__ import annotations

import gzip
import io
import lzma
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.os.dnf.execute import TransactionRow, parse_transaction
from patchwarden.adapters.os.dnf.repomd import (
    cached_repo_dir,
    metadata_path,
    open_metadata,
    parse_repomd,
)
from patchwarden.adapters.os.dnf.repos import repositories, updateinfo_files
from patchwarden.adapters.os.dnf.rpmdb import evr, find_dbpath, source_of, split_evr
from patchwarden.adapters.os.dnf.updateinfo import (
    Notice,
    index_notices,
    iter_notices,
    notice_facts,
    parse_date,
)
from patchwarden.adapters.runner import FakeRunner
from patchwarden.errors import EnvironmentProblem

DATA = Path(__file__).resolve().parents[2] / "data"


def notices(name: str) -> list[Notice]:
    with (DATA / name).open("rb") as fh:
        return list(iter_notices(fh, name))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# -- updateinfo.xml ---------------------------------------------------------------------------


def test_rhsa_notice_facts() -> None:
    rhsa, rhba = notices("updateinfo-rhsa.xml")
    assert rhsa.id == "RHSA-2024:2447"
    assert rhsa.type == "security"
    assert rhsa.severity == "Important"
    assert rhsa.issued == utc(2024, 4, 30, 11, 5, 21)
    assert rhsa.updated == utc(2024, 5, 2, 9, 14, 7)
    assert rhsa.released == rhsa.updated  # updated wins over issued
    assert rhsa.cve_ids == ("CVE-2023-3446", "CVE-2023-3817", "CVE-2024-0727")
    assert rhsa.bugzilla_ids == ("2224962", "2257571")  # the "self" reference is no id
    assert ("openssl-libs", 1, "3.0.7", "27.el9", "x86_64") in rhsa.packages
    assert ("openssl", 1, "3.0.7", "27.el9", "src") in rhsa.packages
    assert rhba.type == "bugfix" and rhba.severity == "None"


def test_alas2023_lower_case_severity_and_minute_dates() -> None:
    first, second = notices("updateinfo-alas2023.xml")
    assert first.id == "ALAS2023-2024-499"
    assert first.issued == utc(2024, 2, 1, 0, 58)
    assert first.updated == utc(2024, 2, 5, 23, 27)
    assert first.cve_ids == ("CVE-2023-46218", "CVE-2023-46219")
    assert second.updated is None and second.released == utc(2024, 2, 15, 19, 2)
    facts = notice_facts([first])
    assert facts is not None
    assert (facts.classification, facts.severity) == ("Security", "Important")


def test_other_date_spellings_and_types() -> None:
    tz, py, fresh = notices("updateinfo-bugfix.xml")
    assert tz.issued == utc(2024, 1, 11, 9, 20)  # epoch seconds
    assert tz.released == utc(2024, 1, 12, 9, 20)
    assert tz.severity == "" and tz.bugzilla_ids == ("5011",)
    assert py.issued == utc(2024, 1, 12) and py.packages == (
        ("python3.11", 0, "3.11.7", "1.el9", "x86_64"),  # no epoch attribute: 0
    )
    assert fresh.issued is None and fresh.released is None  # unreadable: SSM counts 1970
    assert [notice_facts([n]).classification for n in (tz, py, fresh)] == [  # type: ignore[union-attr]
        "Bugfix",
        "Enhancement",
        "Newpackage",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-10 12:00:00", utc(2025, 1, 10, 12)),
        ("2025-01-10 12:00", utc(2025, 1, 10, 12)),
        ("2025-01-10", utc(2025, 1, 10)),
        ("1736942400", utc(2025, 1, 15, 12)),
        ("2025-01-10T12:00:00Z", utc(2025, 1, 10, 12)),
        ("2025-01-10 14:00:00+02:00", utc(2025, 1, 10, 12)),
        ("2025-01-10 12:00:00 UTC", utc(2025, 1, 10, 12)),
        ("", None),
        ("None", None),
        ("99999999999999999999", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_several_notices_on_one_version_most_severe_wins_ids_are_united() -> None:
    rhsa, rhba = notices("updateinfo-rhsa.xml")
    index = index_notices([rhba, rhsa])
    covering = index[("openssl-libs", 1, "3.0.7", "27.el9", "x86_64")]
    assert [n.id for n in covering] == ["RHBA-2024:2501", "RHSA-2024:2447"]
    facts = notice_facts(covering)
    assert facts is not None
    assert (facts.classification, facts.severity) == ("Security", "Important")
    assert facts.release_date == rhsa.released  # the date of the chosen notice
    assert facts.advisory_ids == ("RHBA-2024:2501", "RHSA-2024:2447")
    assert facts.cve_ids == ("CVE-2023-3446", "CVE-2023-3817", "CVE-2024-0727")
    assert set(facts.bugzilla_ids) == {"2270033", "2224962", "2257571"}
    # the i686 build is covered by the security notice only
    assert [n.id for n in index[("openssl-libs", 1, "3.0.7", "27.el9", "i686")]] == [
        "RHSA-2024:2447"
    ]


def test_severity_breaks_ties_between_security_notices() -> None:
    important, medium = notices("updateinfo-alas2023.xml")
    facts = notice_facts([medium, important])
    assert facts is not None and facts.severity == "Important"
    assert facts.cve_ids == ("CVE-2023-46218", "CVE-2023-46219", "CVE-2024-0853")
    assert notice_facts([]) is None


def test_corrupt_updateinfo_is_a_clear_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match=r"corrupt update metadata .*updateinfo-corrupt"):
        notices("updateinfo-corrupt.xml")


def test_a_document_that_is_not_updateinfo_is_refused() -> None:
    with pytest.raises(EnvironmentProblem, match="not an updateinfo document"):
        list(iter_notices(io.BytesIO(b"<repomd><data/></repomd>"), "x.xml"))


# -- repomd.xml and dnf's cache ---------------------------------------------------------------

REPOMD = b"""<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1736942400</revision>
  <data type="primary">
    <checksum type="sha256">3bfe3ad5</checksum>
    <location href="repodata/3bfe3ad5-primary.xml.gz"/>
  </data>
  <data type="updateinfo">
    <checksum type="sha256">13948470</checksum>
    <location href="repodata/13948470-updateinfo.xml.xz"/>
  </data>
</repomd>
"""


def test_parse_repomd() -> None:
    found = parse_repomd(REPOMD)
    assert found["updateinfo"].href == "repodata/13948470-updateinfo.xml.xz"
    assert found["primary"].checksum == "3bfe3ad5"
    with pytest.raises(EnvironmentProblem, match="corrupt repository metadata"):
        parse_repomd(b"<repomd><data", "r.xml")


def _cache_repo(cachedir: Path, name: str, updateinfo: bytes) -> Path:
    repodata = cachedir / name / "repodata"
    repodata.mkdir(parents=True)
    (repodata / "repomd.xml").write_bytes(REPOMD)
    (repodata / "13948470-updateinfo.xml.xz").write_bytes(lzma.compress(updateinfo))
    return cachedir / name


def test_updateinfo_found_in_dnfs_cache_and_decompressed(tmp_path: Path) -> None:
    cachedir = tmp_path / "var/cache/dnf"
    xml = (DATA / "updateinfo-alas2023.xml").read_bytes()
    folder = _cache_repo(cachedir, "amazonlinux-0123456789abcdef", xml)
    _cache_repo(cachedir, "amazonlinux-debuginfo-0123456789abcdef", b"<updates/>")
    (cachedir / "amazonlinux.solv").write_bytes(b"")
    assert cached_repo_dir(cachedir, "amazonlinux") == folder
    assert cached_repo_dir(cachedir, "other") is None
    path = metadata_path(folder, "updateinfo")
    assert path is not None and path.suffix == ".xz"
    with open_metadata(path, FakeRunner()) as fh:
        assert [n.id for n in iter_notices(fh)] == ["ALAS2023-2024-499", "ALAS2023-2024-512"]


def test_gzip_and_plain_metadata(tmp_path: Path) -> None:
    xml = (DATA / "updateinfo-rhsa.xml").read_bytes()
    (tmp_path / "u.xml.gz").write_bytes(gzip.compress(xml))
    (tmp_path / "u.xml").write_bytes(xml)
    for name in ("u.xml.gz", "u.xml"):
        with open_metadata(tmp_path / name, FakeRunner()) as fh:
            assert len(list(iter_notices(fh))) == 2


REPO_FILE = """\
[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
gpgcheck=1
enabled=1
countme=1

[baseos-debug]
name=Rocky Linux $releasever - BaseOS - Debug
enabled=0

[extras]
name=Extras
baseurl=http://example.invalid/extras
skip_if_unavailable=True
"""


def test_repositories_of_a_root(tmp_path: Path) -> None:
    (tmp_path / "etc/yum.repos.d").mkdir(parents=True)
    (tmp_path / "etc/yum.repos.d/rocky.repo").write_text(REPO_FILE)
    (tmp_path / "etc/yum.repos.d/broken.repo").write_text("no section header\n")
    (tmp_path / "etc/yum.repos.d/notes.txt").write_text("[ignored]\n")
    repos = {r.id: r for r in repositories(tmp_path)}
    assert set(repos) == {"baseos", "baseos-debug", "extras"}
    assert repos["baseos"].enabled and not repos["baseos-debug"].enabled
    assert not repos["baseos"].skip_if_unavailable and repos["extras"].skip_if_unavailable
    (tmp_path / "etc/dnf").mkdir()
    (tmp_path / "etc/dnf/dnf.conf").write_text("[main]\nskip_if_unavailable=True\n")
    assert all(r.skip_if_unavailable for r in repositories(tmp_path))
    cachedir = tmp_path / "var/cache/dnf"
    _cache_repo(cachedir, "baseos-fedcba9876543210", b"<updates/>")
    _cache_repo(cachedir, "baseos-debug-fedcba9876543210", b"<updates/>")
    files = updateinfo_files(cachedir, list(repos.values()))
    assert [f.parent.parent.name for f in files] == ["baseos-fedcba9876543210"]


# -- dnf's transaction table ------------------------------------------------------------------

CAPTURED_PLAN = (
    "Last metadata expiration check: 0:00:44 ago on Fri Nov 27 04:38:14 2026.\n"
    "Dependencies resolved.\n"
    "================================================================================\n"
    " Package        Architecture   Version                    Repository       Size\n"
    "================================================================================\n"
    "Installing:\n"
    " kernel         noarch         6.1.1-1.amzn2023           sandbox         6.0 k\n"
    "Upgrading:\n"
    " app            noarch         1.1-1                      sandbox         6.0 k\n"
    " epo            noarch         1:0.9-1                    sandbox         6.0 k\n"
    "Installing dependencies:\n"
    " newdep         noarch         1.0-1                      sandbox         6.0 k\n"
    "\n"
    "Transaction Summary\n"
    "================================================================================\n"
    "Install  2 Packages\n"
    "Upgrade  2 Packages\n"
    "\n"
    "Total size: 24 k\n"
)
"""Real ``dnf --assumeno install`` output on a sandbox root (dnf 4.14)."""


def test_parse_captured_transaction() -> None:
    assert parse_transaction(CAPTURED_PLAN) == [
        TransactionRow("install", "kernel", "noarch", "6.1.1-1.amzn2023"),
        TransactionRow("upgrade", "app", "noarch", "1.1-1"),
        TransactionRow("upgrade", "epo", "noarch", "1:0.9-1"),
        TransactionRow("install", "newdep", "noarch", "1.0-1"),
    ]


WRAPPED_PLAN = """\
Dependencies resolved.
================================================================================
 Package                     Arch    Version                    Repo       Size
================================================================================
Upgrading:
 kernel-modules-extra-common-firmware-placeholder
                             x86_64  5.14.0-362.8.1.el9_3       baseos     512
 openssl-libs                x86_64  1:3.0.7-27.el9             baseos    2.2 M
     replacing  openssl-fips-provider.x86_64 3.0.7-2.el9
Removing dependent packages:
 legacy-tool                 x86_64  1.0-1.el9                  @System    10 k
Downgrading:
 tzdata                      noarch  2023c-1.el9                baseos    840 k

Transaction Summary
================================================================================
"""
"""dnf pushes the rest of a row onto the next line when a value overflows its column;
sizes under 1 kB have no unit; obsoleted packages follow as ``replacing`` lines."""


def test_parse_wrapped_rows_replacing_lines_and_removals() -> None:
    assert parse_transaction(WRAPPED_PLAN) == [
        TransactionRow(
            "upgrade",
            "kernel-modules-extra-common-firmware-placeholder",
            "x86_64",
            "5.14.0-362.8.1.el9_3",
        ),
        TransactionRow("upgrade", "openssl-libs", "x86_64", "1:3.0.7-27.el9"),
        TransactionRow("remove", "legacy-tool", "x86_64", "1.0-1.el9"),
        TransactionRow("downgrade", "tzdata", "noarch", "2023c-1.el9"),
    ]


def test_nothing_to_do_is_an_empty_transaction() -> None:
    assert parse_transaction("Dependencies resolved.\nNothing to do.\nComplete!\n") == []


# -- rpm helpers ------------------------------------------------------------------------------


def test_evr_and_source_rpm() -> None:
    assert evr(0, "1.0", "1.el9") == "1.0-1.el9"
    assert evr(2, "1.0", "1.el9") == "2:1.0-1.el9"
    assert split_evr("2:1.0-1.el9") == (2, "1.0", "1.el9")
    assert split_evr("5.14.0-362.8.1.el9_3") == (0, "5.14.0", "362.8.1.el9_3")
    assert source_of("openssl-3.0.7-27.el9.src.rpm", 1) == ("openssl", "1:3.0.7-27.el9")
    assert source_of("kernel-5.14.0-362.8.1.el9_3.src.rpm", 0) == (
        "kernel",
        "5.14.0-362.8.1.el9_3",
    )
    assert source_of("", 0) == ("", "")


def test_find_dbpath(tmp_path: Path) -> None:
    assert find_dbpath(tmp_path) is None
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    assert find_dbpath(tmp_path) is None  # an empty directory is no database
    (tmp_path / "root/.rpmdb").mkdir(parents=True)
    (tmp_path / "root/.rpmdb/rpmdb.sqlite").write_bytes(b"")
    assert find_dbpath(tmp_path) == "/root/.rpmdb"  # Debian's rpm/dnf
    (tmp_path / "var/lib/rpm/Packages").write_bytes(b"")  # RHEL 8 / AL2 BerkeleyDB
    assert find_dbpath(tmp_path) == "/var/lib/rpm"


def test_find_dbpath_skips_fedoras_symlink(tmp_path: Path) -> None:
    sysimage = tmp_path / "usr/lib/sysimage/rpm"
    sysimage.mkdir(parents=True)
    (sysimage / "rpmdb.sqlite").write_bytes(b"")
    (tmp_path / "var/lib").mkdir(parents=True)
    (tmp_path / "var/lib/rpm").symlink_to("/usr/lib/sysimage/rpm")  # absolute: the host's
    assert find_dbpath(tmp_path) == "/usr/lib/sysimage/rpm"
