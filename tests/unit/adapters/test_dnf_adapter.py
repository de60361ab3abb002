"""The dnf adapter with a scripted runner (argv, facts, errors), OS detection and products.

The real rpm and dnf are driven in tests/integration/test_dnf_*.py; here the runner is
scripted to pin what the adapter asks and how it reads the answers.
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.adapters.os import detect
from patchwarden.adapters.os.dnf.facts import needing_reboot, slot
from patchwarden.adapters.os.dnf.manager import DnfPackageManager
from patchwarden.adapters.os.osrelease import os_info_from_fields, parse_os_release, read_os_info
from patchwarden.adapters.runner import FakeRunner
from patchwarden.errors import EnvironmentProblem
from patchwarden.ports import RunResult

DATA = Path(__file__).resolve().parents[2] / "data"

AL2023 = 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'

RPM_QA = (
    "curl-minimal\t0\t8.3.0\t1.amzn2023.0.2\tx86_64\tcurl-8.3.0-1.amzn2023.0.2.src.rpm\t1700000000\n"
    "libcurl-minimal\t0\t8.3.0\t1.amzn2023.0.2\tx86_64\tcurl-8.3.0-1.amzn2023.0.2.src.rpm\t1700000000\n"
    "pyfoo\t0\t1.0\t1\tx86_64\tpyfoo-1.0-1.src.rpm\t1700000000\n"
    "gpg-pubkey\t0\td832c631\t5515fb0b\t(none)\t(none)\t1700000000\n"
)
REPOQUERY = (
    "Last metadata expiration check: 0:10:00 ago.\n"
    "PW\tcurl-minimal\t0\t8.5.0\t1.amzn2023.0.1\tx86_64\tamazonlinux\t"
    "curl-8.5.0-1.amzn2023.0.1.src.rpm\n"
    "PW\tlibcurl-minimal\t0\t8.5.0\t1.amzn2023.0.1\tx86_64\tamazonlinux\t"
    "curl-8.5.0-1.amzn2023.0.1.src.rpm\n"
    "PW\tpyfoo\t0\t1.1\t1\tnoarch\tamazonlinux\tpyfoo-1.1-1.src.rpm\n"
)
REPOMD = """<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <data type="updateinfo"><location href="repodata/abc-updateinfo.xml.gz"/></data>
</repomd>
"""


def _root(tmp_path: Path, repo_extra: str = "") -> Path:
    root = tmp_path / "root"
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/os-release").write_text(AL2023)
    (root / "etc/yum.repos.d/amazonlinux.repo").write_text(
        "[amazonlinux]\nname=Amazon Linux 2023\nmirrorlist=https://al2023-repos.invalid/"
        "$releasever/mirror.list\nenabled=1\n" + repo_extra
    )
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"")
    repodata = root / "var/cache/dnf/amazonlinux-0123456789abcdef/repodata"
    repodata.mkdir(parents=True)
    (repodata / "repomd.xml").write_text(REPOMD)
    xml = (DATA / "updateinfo-alas2023.xml").read_bytes()
    (repodata / "abc-updateinfo.xml.gz").write_bytes(gzip.compress(xml))
    return root


def _runner(stderr: str = "") -> FakeRunner:
    def handle(argv: tuple[str, ...]) -> RunResult:
        if argv[0] == "rpm" and "-qa" in argv:
            return RunResult(argv, 0, RPM_QA, "")
        if argv[0] == "rpm":  # --whatprovides system-release(releasever): none
            return RunResult(argv, 1, "no package provides system-release(releasever)\n", "")
        if "repoquery" in argv:
            return RunResult(argv, 0, REPOQUERY, stderr)
        return RunResult(argv, 0, "", "")

    return FakeRunner(handle)


def test_collect_asks_rpm_and_dnf_about_the_root_only(tmp_path: Path) -> None:
    root = _root(tmp_path)
    runner = _runner()
    inventory = DnfPackageManager(str(root), runner=runner).collect()

    rpm_qa = next(c for c in runner.calls if "-qa" in c)
    assert rpm_qa[:5] == ("rpm", "--root", str(root), "--dbpath", "/var/lib/rpm")
    dnf = next(c for c in runner.calls if c[0] == "dnf")
    assert f"--installroot={root}" in dnf
    assert f"--setopt=reposdir={root}/etc/yum.repos.d" in dnf
    assert f"--setopt=cachedir={root}/var/cache/dnf" in dnf
    assert "--releasever=2023" in dnf  # nothing provides system-release(releasever)
    assert any(a.startswith("--config=") and "patchwarden-dnf-" in a for a in dnf)
    assert dnf[dnf.index("repoquery") - 1] == "-C"  # cached metadata only, no network
    assert {"--upgrades", "--show-duplicates"} <= set(dnf)

    assert inventory.scheme == "rpm"
    assert inventory.os.product == "AmazonLinux2023"
    assert [p.package.name for p in inventory.installed] == [
        "curl-minimal",
        "libcurl-minimal",
        "pyfoo",
    ]  # gpg-pubkey is no package
    curl = next(u for u in inventory.updates if u.name == "curl-minimal")
    assert curl.version == "8.5.0-1.amzn2023.0.1"
    assert (curl.source_name, curl.source_version) == ("curl", "8.5.0-1.amzn2023.0.1")
    assert curl.update_notice and curl.classification == "Security"
    assert curl.severity == "Important"  # the important notice outranks the medium one
    assert curl.advisory_ids == ("ALAS2023-2024-499", "ALAS2023-2024-512")
    assert curl.cve_ids == ("CVE-2023-46218", "CVE-2023-46219", "CVE-2024-0853")
    assert curl.release_date == datetime(2024, 2, 5, 23, 27, tzinfo=UTC)
    assert curl.repository == "amazonlinux"
    assert inventory.reboot_required is False and inventory.last_boot is None


def test_an_update_moving_to_noarch_belongs_to_the_installed_slot(tmp_path: Path) -> None:
    pm = DnfPackageManager(str(_root(tmp_path)), runner=_runner())
    inventory = pm.collect()
    pyfoo = next(u for u in inventory.updates if u.name == "pyfoo")
    assert (pyfoo.arch, pyfoo.update_notice, pyfoo.classification) == ("x86_64", False, "")
    assert pyfoo.release_date is None
    runner = FakeRunner(lambda argv: RunResult(argv, 0, "", ""))
    pm._runner = runner
    pm.install([pyfoo])
    install = next(c for c in runner.calls if "install" in c)
    assert install[-1] == "pyfoo-1.1-1.noarch"  # dnf is asked for the real NEVRA


def test_slot() -> None:
    assert slot("a", "noarch", {"a": {"x86_64"}}) == "x86_64"
    assert slot("a", "x86_64", {"a": {"noarch"}}) == "noarch"
    assert slot("a", "i686", {"a": {"x86_64"}}) == "i686"
    assert slot("a", "noarch", {"a": {"x86_64", "i686"}}) == "noarch"


def test_a_repository_without_cached_metadata_needs_a_refresh(tmp_path: Path) -> None:
    root = _root(tmp_path)
    stderr = "Error: Cache-only enabled but no cache for 'amazonlinux'\n"
    pm = DnfPackageManager(str(root), runner=_runner(stderr))
    with pytest.raises(
        EnvironmentProblem, match=r"no dnf metadata cached .*amazonlinux.*--refresh"
    ):
        pm.collect()
    skipping = DnfPackageManager(
        str(_root(tmp_path / "b", "skip_if_unavailable=1\n")), runner=_runner(stderr)
    )
    assert skipping.collect().updates  # dnf itself would skip that repository too


def test_no_rpm_database_or_no_rpm_is_an_environment_problem(tmp_path: Path) -> None:
    root = _root(tmp_path)
    shutil.rmtree(root / "var/lib/rpm")
    with pytest.raises(EnvironmentProblem, match="no rpm database in root"):
        DnfPackageManager(str(root), runner=_runner()).collect()

    def missing(argv: tuple[str, ...]) -> RunResult:
        raise EnvironmentProblem(f"{argv[0]}: command not found")

    root = _root(tmp_path / "b")
    with pytest.raises(EnvironmentProblem, match="rpm is not installed"):
        DnfPackageManager(str(root), runner=FakeRunner(missing)).collect()


def test_needing_reboot() -> None:
    boot = datetime(2025, 1, 1, tzinfo=UTC)
    stamp = int(boot.timestamp())
    assert needing_reboot({"kernel-core": stamp + 60, "glibc": stamp - 60}, boot) == (
        "kernel-core",
    )
    assert needing_reboot({}, boot) == ()


# -- OS detection and SSM product strings ----------------------------------------------------


@pytest.mark.parametrize(
    ("os_release", "operating_system", "product"),
    [
        ('ID="rhel"\nVERSION_ID="9.4"\n', "REDHAT_ENTERPRISE_LINUX", "RedhatEnterpriseLinux9.4"),
        ('ID="amzn"\nVERSION_ID="2023"\n', "AMAZON_LINUX_2023", "AmazonLinux2023"),
        ('ID="amzn"\nVERSION_ID="2"\n', "AMAZON_LINUX_2", "AmazonLinux2"),
        ('ID="amzn"\nVERSION_ID="2018.03"\n', "AMAZON_LINUX", "AmazonLinux"),
        ('ID="rocky"\nVERSION_ID="9.3"\n', "ROCKY_LINUX", "RockyLinux9.3"),
        ('ID="almalinux"\nVERSION_ID="9.3"\n', "ALMA_LINUX", "AlmaLinux9.3"),
        ('ID="ol"\nVERSION_ID="8.7"\n', "ORACLE_LINUX", "OracleLinux8.7"),
        ('NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\n', "CENTOS", "CentOSStream9"),
        ("ID=fedora\nVERSION_ID=40\n", "FEDORA", "Fedora40"),
    ],
)
def test_rpm_products(os_release: str, operating_system: str, product: str) -> None:
    info = os_info_from_fields(parse_os_release(os_release))
    assert (info.family, info.operating_system, info.product) == (
        "rhel",
        operating_system,
        product,
    )


def test_centos_7_product_has_the_point_release(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('NAME="CentOS Linux"\nID="centos"\nVERSION_ID="7"\n')
    assert read_os_info(tmp_path).product == "CentOS7"
    (tmp_path / "etc/centos-release").write_text("CentOS Linux release 7.9.2009 (Core)\n")
    info = read_os_info(tmp_path)
    assert (info.product, info.version_id) == ("CentOS7.9", "7")


def test_detect_routes_rhel_family_roots_to_dnf(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(AL2023)
    pm = detect(str(tmp_path))
    assert isinstance(pm, DnfPackageManager) and pm.root == str(tmp_path)


def test_detect_refuses_other_systems_clearly(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('ID=plan9\nVERSION_ID=4\nPRETTY_NAME="Plan 9"\n')
    with pytest.raises(EnvironmentProblem, match=r"unsupported operating system 'Plan 9'.*dnf/rpm"):
        detect(str(tmp_path))
