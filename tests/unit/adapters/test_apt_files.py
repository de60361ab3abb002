"""Reading apt's files: lists and Release facts, apt.conf, deb822 indices, os-release."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import lz4.frame
import pytest

from patchwarden.adapters.os.apt.conf import get, get_bool, parse_apt_conf
from patchwarden.adapters.os.apt.index import (
    iter_index,
    iter_paragraphs,
    read_index,
    strip_signature,
)
from patchwarden.adapters.os.apt.lists import find_package_lists, is_security_origin
from patchwarden.adapters.os.osrelease import os_info_from_fields, parse_os_release, read_os_info
from patchwarden.errors import AdapterError, EnvironmentProblem

PACKAGES = b"""Package: a
Version: 1.0
Architecture: all
Description: first
 continued line

Package: b
Version: 2:3.0-1
Source: bsrc (3.0-1)
Architecture: amd64
"""

INRELEASE = """-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Origin: Debian
Label: Debian-Security
Suite: oldstable-security
Version: 12
Codename: bookworm-security
-----BEGIN PGP SIGNATURE-----

xyz
-----END PGP SIGNATURE-----
"""


@pytest.mark.parametrize("suffix", ["", ".lz4", ".gz", ".xz"])
def test_read_index_decompresses_by_suffix(tmp_path: Path, suffix: str) -> None:
    pack = {"": bytes, ".lz4": lz4.frame.compress, ".gz": gzip.compress, ".xz": lzma.compress}
    path = tmp_path / f"x_Packages{suffix}"
    path.write_bytes(pack[suffix](PACKAGES))
    assert read_index(path) == PACKAGES


def test_corrupt_index_is_a_clear_adapter_error(tmp_path: Path) -> None:
    path = tmp_path / "x_Packages.xz"
    path.write_bytes(b"not xz at all")
    with pytest.raises(AdapterError, match="corrupt xz"):
        read_index(path)


def test_iter_paragraphs_filters_by_name_and_keeps_continuations() -> None:
    everything = list(iter_paragraphs(PACKAGES))
    assert [p["Package"] for p in everything] == ["a", "b"]
    assert everything[0]["Description"] == "first\ncontinued line"
    only_b = list(iter_paragraphs(PACKAGES, {"b"}))
    assert only_b == [everything[1]]


def test_lists_map_packages_to_their_release(tmp_path: Path) -> None:
    (tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_InRelease").write_text(
        INRELEASE
    )
    pk = (
        tmp_path
        / "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4"
    )
    pk.write_bytes(lz4.frame.compress(PACKAGES))
    (tmp_path / "_srv_repo_._Release").write_text("Origin: local\nSuite: ./\nNotAutomatic: yes\n")
    (tmp_path / "_srv_repo_._Packages").write_bytes(PACKAGES)
    lists = {lf.path.name: lf.index for lf in find_package_lists(tmp_path)}
    sec = lists[pk.name]
    assert sec.origin.archive == "oldstable-security"
    assert sec.origin.codename == "bookworm-security"
    assert sec.origin.label == "Debian-Security"
    assert (sec.origin.component, sec.arch, sec.origin.site) == ("main", "amd64", "deb.debian.org")
    assert is_security_origin(sec.origin)
    flat = lists["_srv_repo_._Packages"]
    assert flat.local and flat.not_automatic and flat.origin.site == ""
    assert not is_security_origin(flat.origin)
    assert strip_signature(INRELEASE).startswith("Origin: Debian")


def test_apt_conf_scopes_lists_and_comments() -> None:
    text = """
    // comment
    APT::Default-Release "bookworm"; # trailing
    APT { Get { Always-Include-Phased-Updates "true"; }; };
    Acquire::http::Proxy "http://proxy:3128/";
    /* block
       comment */
    DPkg::Options { "--force-confold"; "--force-confdef"; };
    """
    values = parse_apt_conf(text)
    assert get(values, "apt::default-release") == "bookworm"
    assert get_bool(values, "APT::Get::Always-Include-Phased-Updates")
    assert get(values, "Acquire::http::Proxy") == "http://proxy:3128/"
    assert get(values, "DPkg::Options") == "--force-confold --force-confdef"
    assert not get_bool(values, "APT::Missing")


def test_os_release_products() -> None:
    deb = os_info_from_fields(
        parse_os_release('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    )
    assert (deb.family, deb.operating_system, deb.product) == ("debian", "DEBIAN", "Debian12")
    ubu = os_info_from_fields(parse_os_release('ID=ubuntu\nVERSION_ID="22.04"\nID_LIKE=debian\n'))
    assert (ubu.operating_system, ubu.product) == ("UBUNTU", "Ubuntu22.04")
    al = os_info_from_fields({"ID": "amzn", "VERSION_ID": "2023"})
    assert (al.family, al.operating_system, al.product) == (
        "rhel",
        "AMAZON_LINUX_2023",
        "AmazonLinux2023",
    )
    rocky = os_info_from_fields({"ID": "rocky", "VERSION_ID": "9.3"})
    assert (rocky.operating_system, rocky.product) == ("ROCKY_LINUX", "RockyLinux9.3")
    mint = os_info_from_fields({"ID": "linuxmint", "ID_LIKE": "ubuntu debian", "VERSION_ID": "21"})
    assert mint.family == "debian"


def test_missing_root_or_os_release_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        read_os_info(tmp_path / "nope")
    with pytest.raises(EnvironmentProblem, match="os-release"):
        read_os_info(tmp_path)


@pytest.mark.parametrize("suffix", [".lz4", ".gz", ".xz"])
def test_truncated_index_is_reported_not_half_read(tmp_path: Path, suffix: str) -> None:
    pack = {".lz4": lz4.frame.compress, ".gz": gzip.compress, ".xz": lzma.compress}
    path = tmp_path / f"x_Packages{suffix}"
    path.write_bytes(pack[suffix](PACKAGES * 50)[:-12])
    with pytest.raises(AdapterError, match="corrupt"):
        list(iter_index(path))


def test_streaming_index_matches_whole_parse(tmp_path: Path) -> None:
    big = b"\n".join(
        b"Package: p%d\nVersion: 1.%d\nDescription: x\n %s\n" % (i, i, b"y" * 300)
        for i in range(20000)
    )
    path = tmp_path / "big_Packages.lz4"
    path.write_bytes(lz4.frame.compress(big))
    wanted = {"p0", "p4711", "p19999"}
    got = [p["Version"] for p in iter_index(path, wanted)]
    assert got == ["1.0", "1.4711", "1.19999"]
    assert len(list(iter_index(path))) == 20000
