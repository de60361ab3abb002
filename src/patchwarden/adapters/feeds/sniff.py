"""Which feed a raw file belongs to, from its content (for ``patchwarden db import``)."""

from __future__ import annotations

import gzip
import json
import re
import zipfile
import zlib
from pathlib import Path

from patchwarden.adapters.feeds.redhat_csaf import is_vex

OSV_FAMILIES = {
    "Debian": "osv-debian",
    "Ubuntu": "osv-ubuntu",
    "Alpine": "osv-alpine",
    "Rocky Linux": "osv-rocky",
    "AlmaLinux": "osv-alma",
    "SUSE": "osv-suse",
    "openSUSE": "osv-opensuse",
}
"""OSV ecosystem family (the part before the first ``:``) → feed name."""

OSV_ID_PREFIXES = {
    "DSA-": "osv-debian",
    "DLA-": "osv-debian",
    "DTSA-": "osv-debian",
    "DEBIAN-": "osv-debian",
    "USN-": "osv-ubuntu",
    "UBUNTU-": "osv-ubuntu",
    "ALPINE-": "osv-alpine",
    "RLSA-": "osv-rocky",
    "ALSA-": "osv-alma",
    "ALBA-": "osv-alma",
    "ALEA-": "osv-alma",
    "SUSE-": "osv-suse",
    "openSUSE-": "osv-opensuse",
}
"""For records without any affected package (``DLA-3623-1``): the feed from the id."""

_OSV_KEYS = frozenset(
    {
        "id", "schema_version", "modified", "published", "withdrawn", "aliases", "upstream",
        "related", "summary", "details", "severity", "affected", "references", "credits",
        "database_specific",
    }
)  # fmt: skip
_KEV_KEYS = frozenset({"title", "catalogVersion", "dateReleased", "count", "vulnerabilities"})
_SECDB_KEYS = frozenset({"apkurl", "archs", "reponame", "urlprefix", "distroversion", "packages"})
_FIRST_KEY = re.compile(rb'^\s*\{\s*"((?:[^"\\]|\\.)*)"')
_PROBE = 64 << 10
_MAX_RECORD = 64 << 20
_ZIP_PROBE = 200


def classify(path: Path) -> str | None:
    """The feed name of a raw feed file, or ``None`` when it is none of them.

    By content, not by name (the tracker's file is called ``json``): zip → OSV by the
    records' ecosystem; YAML → Alpine secdb; a JSON object → by its first key.
    """
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "alpine-secdb"
    if zipfile.is_zipfile(path):
        return _classify_zip(path)
    if is_vex(path):  # a CSAF VEX document (first key "document") or a tar(.zst) of them
        return "redhat-csaf"
    with path.open("rb") as stream:
        head = stream.read(_PROBE)
    if head.startswith(b"\x1f\x8b"):
        unzipped = _gunzip_head(path)
        if _is_alas(unzipped):
            return "alas"
        return "epss" if _is_epss(unzipped) else "nvd" if _is_nvd(unzipped) else None
    if _is_nvd(head):
        return "nvd"
    if _is_epss(head):
        return "epss"
    if _is_alas(head):
        return "alas"
    match = _FIRST_KEY.match(head.removeprefix(b"\xef\xbb\xbf"))
    if match is None:
        return None
    key = match.group(1).decode("utf-8", "replace")
    if key in _SECDB_KEYS:
        return "alpine-secdb"
    if key in _KEV_KEYS:
        return "cisa-kev"
    if key not in _OSV_KEYS:
        return "debian-tracker"
    if path.stat().st_size > _MAX_RECORD:
        return None
    try:
        return _osv_feed(json.loads(path.read_bytes()))
    except ValueError:
        return None


def _is_nvd(head: bytes) -> bool:
    """An NVD 2.0 JSON file (the API's answer or a yearly feed): ``"format": "NVD_CVE"``
    among its first keys."""
    return re.search(rb'"format"\s*:\s*"NVD_CVE"', head[:4096]) is not None


def _is_epss(head: bytes) -> bool:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text.startswith((b"#model_version", b"cve,epss"))


def _is_alas(head: bytes) -> bool:
    """Amazon Linux's updateinfo.xml: an ``<updates>`` document whose first notices carry
    ALAS ids or ``amzn`` release tags (other distributions' updateinfo is not a feed)."""
    if re.search(rb"<updates[\s>/]", head) is None:
        return False
    return re.search(rb"<id>\s*ALAS|release=\"[^\"]*\.amzn\d", head) is not None


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read(4096)
    except (OSError, EOFError, zlib.error):
        return b""


def _classify_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.endswith(".json")]
            for info in members[:_ZIP_PROBE]:
                if info.file_size > _MAX_RECORD:
                    continue
                feed = _osv_feed(json.loads(archive.read(info)))
                if feed:
                    return feed
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None
    return None


def _osv_feed(record: object) -> str | None:
    if not isinstance(record, dict):
        return None
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, dict) else None
        eco = package.get("ecosystem") if isinstance(package, dict) else None
        if isinstance(eco, str) and eco:
            return OSV_FAMILIES.get(eco.split(":", 1)[0])
    vuln_id = record.get("id")
    if isinstance(vuln_id, str):
        for prefix, feed in OSV_ID_PREFIXES.items():
            if vuln_id.startswith(prefix):
                return feed
    return None
