"""Alpine (apk) roots: ``patchwarden scan`` without apk-tools, findings from Alpine's secdb.

The root is written by hand in apk's real formats (tests/data/alpine/alpine_root.py): no
apk-tools (not packaged for Debian 12) and no Alpine mirror are needed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from sandbox import Cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "alpine"))

import alpine_root

pytestmark = pytest.mark.integration

SECDB = Path(__file__).resolve().parents[1] / "data" / "alpine" / "secdb-v3.19"
OPENSSL_FIXES = {
    "CVE-2023-6129": "3.1.4-r3",
    "CVE-2023-6237": "3.1.4-r4",
    "CVE-2024-0727": "3.1.4-r5",
}


@pytest.fixture
def alpine(tmp_path: Path) -> Path:
    return alpine_root.write_alpine_root(tmp_path / "alpine")


def test_scan_reports_installed_packages_and_newer_index_versions(alpine: Path, pw: Cli) -> None:
    result = pw("scan", "--root", alpine, "-f", "json")
    assert result.returncode == 0, str(result)
    report = result.json()
    assert report["node"]["os"]["operating_system"] == "ALPINE"
    assert report["baseline"]["name"] == "Patchwarden-AlpineDefaultPatchBaseline"
    patches = {p["name"]: p for p in report["patches"]}
    assert {n: p["installed_version"] for n, p in patches.items()} == {
        p.name: p.version for p in alpine_root.INSTALLED
    }
    missing = {
        n: (p["available_version"], p["repository"])
        for n, p in patches.items()
        if p["state"] == "MISSING"
    }
    assert missing == alpine_root.UPDATES
    others = {p["state"] for n, p in patches.items() if n not in missing}
    assert others == {"INSTALLED"}
    assert report["compliance"] == "NON_COMPLIANT"


def test_a_baseline_can_filter_on_the_repository(alpine: Path, pw: Cli, tmp_path: Path) -> None:
    baseline = tmp_path / "main-only.yaml"
    baseline.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "patchwarden/v1",
                "kind": "PatchBaseline",
                "metadata": {"name": "alpine-main-only"},
                "spec": {
                    "OperatingSystem": "ALPINE",
                    "ApprovalRules": {
                        "PatchRules": [
                            {
                                "PatchFilterGroup": {
                                    "PatchFilters": [{"Key": "REPOSITORY", "Values": ["main"]}]
                                },
                                "ApproveAfterDays": 0,
                                "EnableNonSecurity": True,
                            }
                        ]
                    },
                },
            }
        )
    )
    result = pw("scan", "--root", alpine, "--baseline", baseline, "-f", "json")
    assert result.returncode == 0, str(result)
    states = {p["name"]: p["state"] for p in result.json()["patches"]}
    assert states["ripgrep"] == "INSTALLED_OTHER"  # its update is in community
    assert states["zlib"] == "MISSING"


def test_scan_vulns_finds_openssl_from_the_secdb(alpine: Path, pw: Cli) -> None:
    imported = pw("db", "import", SECDB)
    assert imported.returncode == 0, str(imported)
    assert "alpine-secdb" in imported.stdout
    result = pw("scan", "--root", alpine, "--vulns", "-f", "json")
    assert result.returncode == 0, str(result)
    report = result.json()
    assert not [w for w in report.get("warnings", []) if "not assessed" in w], report["warnings"]
    found = {(f["vulnerability_id"], f["package_name"]): f for f in report["vulnerabilities"]}
    assert set(found) == {(cve, pkg) for cve in OPENSSL_FIXES for pkg in ("libcrypto3", "libssl3")}
    for (cve, _pkg), finding in found.items():
        assert finding["fixed_version"] == OPENSSL_FIXES[cve]
        assert finding["package_version"] == "3.1.4-r2"
        assert finding["source_name"] == "openssl"
        assert finding["fix_available"] == "YES"
        assert "alpine-secdb" in finding["sources"]
    patches = {p["name"]: p for p in report["patches"]}
    assert patches["libcrypto3"]["cves"] == sorted(OPENSSL_FIXES)
    assert patches["zlib"]["cves"] == []  # zlib's secdb fixes are older than 1.3-r2


def test_refresh_without_apk_tools_is_an_environment_problem(alpine: Path, pw: Cli) -> None:
    if shutil.which("apk") is not None:
        pytest.skip("apk-tools is installed on this host")
    result = pw("scan", "--root", alpine, "--refresh")
    assert result.returncode == 3, str(result)
    assert "apk-tools is not installed (refresh needs it" in result.stderr


def test_baseline_default_alpine_prints_a_valid_document(
    alpine: Path, pw: Cli, tmp_path: Path
) -> None:
    result = pw("baseline", "default", "ALPINE")
    assert result.returncode == 0, str(result)
    doc = yaml.safe_load(result.stdout)
    assert doc["kind"] == "PatchBaseline"
    assert doc["spec"]["OperatingSystem"] == "ALPINE"
    saved = tmp_path / "alpine-default.yaml"
    saved.write_text(result.stdout)
    scanned = pw("scan", "--root", alpine, "--baseline", saved, "-f", "json")
    assert scanned.returncode == 0, str(scanned)
    assert scanned.json()["baseline"]["name"] == "Patchwarden-AlpineDefaultPatchBaseline"


def test_image_scan_of_an_alpine_image(alpine: Path, pw: Cli, tmp_path: Path) -> None:
    """The same root as an OCI image (packed by the image builder's own layer writer and
    umoci): the same package set as the installed database, the same secdb findings."""
    if shutil.which("umoci") is None:
        pytest.skip("umoci is not installed (make test installs it)")
    from patchwarden.adapters.image.oci_build import OciTools
    from patchwarden.core.recipe import ContainerConfig

    layout = tmp_path / "layout"
    work = tmp_path / "work"
    work.mkdir()
    OciTools().pack(
        alpine, layout, "3.19", epoch=1735689600, labels=(), config=ContainerConfig(),
        architecture="amd64", work=work,
    )  # fmt: skip
    assert pw("db", "import", SECDB).returncode == 0
    result = pw("image", "scan", f"{layout}:3.19", "-f", "json")
    assert result.returncode == 0, str(result)
    report = result.json()
    resource = report["resource"]
    assert resource["package_database"] == "apk"
    assert resource["packages"] == len(alpine_root.INSTALLED)
    assert report["node"]["os"]["operating_system"] == "ALPINE"
    found = {(f["vulnerability_id"], f["package_name"]) for f in report["vulnerabilities"]}
    assert found == {(cve, pkg) for cve in OPENSSL_FIXES for pkg in ("libcrypto3", "libssl3")}
    # the secdb says what is fixed where, not how severe (NVD data would): untriaged
    assert {f["severity"] for f in report["vulnerabilities"]} == {"UNTRIAGED"}
