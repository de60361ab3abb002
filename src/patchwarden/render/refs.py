"""Identifiers the machine-readable renderers share: package URLs and advisory pages.

- :func:`package_url`: a purl per installed package, ``pkg:deb/debian/openssl@3.0.22-1~deb12u2
  ?arch=amd64&distro=debian-12`` (``pkg:rpm/<id>/…``, ``pkg:apk/alpine/…``); the version is
  written exactly as the package manager writes it (epoch included);
- :func:`advisory_url`: the page a person reads about a vulnerability id (the distribution's
  tracker for CVEs on Debian/Ubuntu, NVD otherwise, the vendor's page for DSA/USN/GHSA …);
- :func:`package_database`: the file of the root that records installed packages.
"""

from __future__ import annotations

from packageurl import PackageURL

from patchwarden.core.model import OsInfo

_PURL_TYPES = {"debian": "deb", "rhel": "rpm", "suse": "rpm", "alpine": "apk"}
_PURL_NAMESPACES = {"rhel": "redhat", "sles": "suse", "opensuse-leap": "opensuse"}
_PACKAGE_DATABASES = {
    "deb": "var/lib/dpkg/status",
    "rpm": "var/lib/rpm/rpmdb.sqlite",
    "apk": "lib/apk/db/installed",
}


def purl_type(os_info: OsInfo) -> str:
    """``deb``, ``rpm`` or ``apk`` for the root's package family (``generic`` otherwise)."""
    return _PURL_TYPES.get(os_info.family, _PURL_TYPES.get(os_info.id, "generic"))


def distro(os_info: OsInfo) -> str:
    """The purl ``distro`` qualifier: ``debian-12``, ``ubuntu-22.04``."""
    release = os_info.version_id or os_info.codename
    return f"{os_info.id}-{release}" if release else os_info.id


def package_url(os_info: OsInfo, name: str, version: str, arch: str) -> str:
    """The purl of one installed package of a root running ``os_info``."""
    qualifiers = {"distro": distro(os_info)}
    if arch:
        qualifiers["arch"] = arch
    return PackageURL(
        type=purl_type(os_info),
        namespace=_PURL_NAMESPACES.get(os_info.id, os_info.id) or None,
        name=name,
        version=version or None,
        qualifiers=qualifiers,
    ).to_string()


def package_database(os_info: OsInfo) -> str:
    """Path (relative to the root) of the package database that lists installed packages."""
    return _PACKAGE_DATABASES.get(purl_type(os_info), "var/lib/dpkg/status")


def advisory_url(vulnerability_id: str, os_info: OsInfo) -> str:
    """The page describing ``vulnerability_id`` for a node running ``os_info``."""
    vid = vulnerability_id
    if vid.startswith("CVE-"):
        if os_info.id == "debian":
            return f"https://security-tracker.debian.org/tracker/{vid}"
        if os_info.id == "ubuntu":
            return f"https://ubuntu.com/security/{vid}"
        return f"https://nvd.nist.gov/vuln/detail/{vid}"
    if vid.startswith(("DSA-", "DLA-", "TEMP-")):
        return f"https://security-tracker.debian.org/tracker/{vid}"
    if vid.startswith("USN-"):
        return f"https://ubuntu.com/security/notices/{vid}"
    if vid.startswith("GHSA-"):
        return f"https://github.com/advisories/{vid}"
    if vid.startswith(("RHSA-", "RHBA-", "RHEA-")):
        return f"https://access.redhat.com/errata/{vid}"
    return f"https://osv.dev/vulnerability/{vid}"
