"""apt's downloaded lists of a root: which ``Packages`` files exist and their Release facts.

apt names list files after their URI (``deb.debian.org_debian_dists_bookworm_main_binary-amd64_
Packages.lz4``) next to the ``InRelease``/``Release`` file of the same distribution.  A flat
repository (``deb file:/repo ./``) gives ``_repo_._Packages`` next to ``_repo_._Release``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchwarden.adapters.os.apt.index import COMPRESSED_SUFFIXES, parse_paragraph, strip_signature
from patchwarden.adapters.os.apt.policy import IndexFile
from patchwarden.core.model import Origin


@dataclass(frozen=True)
class ListFile:
    """A ``Packages`` index on disk and what its Release file says about it."""

    path: Path
    index: IndexFile


def _packages_stem(name: str) -> str | None:
    for suffix in ("", *COMPRESSED_SUFFIXES):
        if suffix and not name.endswith(suffix):
            continue
        stem = name[: len(name) - len(suffix)] if suffix else name
        if stem.endswith("_Packages"):
            return stem
    return None


def find_package_lists(lists_dir: Path) -> list[ListFile]:
    """Every ``Packages`` list under ``lists_dir`` with its Release facts, in name order."""
    try:
        names = sorted(p.name for p in lists_dir.iterdir() if p.is_file())
    except OSError:
        return []
    releases: dict[str, str] = {}  # prefix -> file name (InRelease preferred)
    for name in names:
        for kind in ("InRelease", "Release"):
            if name.endswith("_" + kind):
                prefix = name[: -len(kind)]
                if kind == "InRelease" or prefix not in releases:
                    releases[prefix] = name
    seen_stems: set[str] = set()
    result: list[ListFile] = []
    for name in names:
        stem = _packages_stem(name)
        if stem is None or stem in seen_stems:
            continue
        seen_stems.add(stem)
        prefix = max((p for p in releases if stem.startswith(p)), key=len, default="")
        release: dict[str, str] = {}
        if prefix:
            try:
                text = (lists_dir / releases[prefix]).read_text(encoding="utf-8", errors="replace")
                release = parse_paragraph(strip_signature(text).split("\n\n")[0].encode())
            except OSError:
                release = {}
        result.append(ListFile(lists_dir / name, _index_file(stem, prefix, release)))
    return result


def _index_file(stem: str, prefix: str, release: dict[str, str]) -> IndexFile:
    rest = stem[len(prefix) :] if prefix else stem
    component, arch = "", ""
    if "_binary-" in rest:
        comp, _, tail = rest.partition("_binary-")
        component = comp.replace("_", "/")
        arch = tail.split("_", 1)[0]
    local = stem.startswith("_")
    site = "" if local else stem.split("_", 1)[0]
    origin = Origin(
        archive=release.get("Suite", ""),
        codename=release.get("Codename", ""),
        label=release.get("Label", ""),
        origin=release.get("Origin", ""),
        component=component,
        site=site,
    )
    return IndexFile(
        origin=origin,
        version=release.get("Version", ""),
        not_automatic=release.get("NotAutomatic", "").lower() == "yes",
        but_automatic_upgrades=release.get("ButAutomaticUpgrades", "").lower() == "yes",
        local=local,
        arch=arch,
    )


def is_security_origin(origin: Origin) -> bool:
    """The security-pocket test of reference §1.9: a ``-security`` archive, the Debian-Security
    label, or a security.debian.org / security.ubuntu.com site."""
    return (
        origin.archive.endswith("-security")
        or origin.codename.endswith("-security")
        or origin.label == "Debian-Security"
        or origin.site in {"security.debian.org", "security.ubuntu.com"}
    )
