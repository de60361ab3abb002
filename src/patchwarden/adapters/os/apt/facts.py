"""Facts of one package version as the apt adapter reports them (pure helpers)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from patchwarden.adapters.os.apt.lists import is_security_origin
from patchwarden.adapters.os.apt.policy import IndexFile, VersionChoice
from patchwarden.core.model import Package
from patchwarden.core.versions import COMPARATORS

_cmp_key = functools.cmp_to_key(COMPARATORS["deb"])


def arch_slot(arch: str, native: str) -> str:
    """apt files ``Architecture: all`` versions under the native architecture's package."""
    return native if arch == "all" else arch


def source_of(fields: dict[str, str], name: str, version: str) -> tuple[str, str]:
    raw = fields.get("Source", "")
    if not raw:
        return name, version
    src, _, rest = raw.partition(" ")
    src_version = rest.strip().strip("()") if rest else version
    return src, src_version or version


def installed_entries(
    paragraphs: Iterable[dict[str, str]], native: str
) -> dict[tuple[str, str], tuple[dict[str, str], str]]:
    """The packages a dpkg status database records: (name, arch) → (control fields, state).

    The state is the last word of ``Status`` (``installed``, ``half-installed`` …;
    ``config-files`` when no version is left); ``not-installed`` entries are left out.
    Paragraphs without ``Architecture`` are of the ``native`` one.
    """
    found: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
    for fields in paragraphs:
        name, version = fields.get("Package", ""), fields.get("Version", "")
        state = (fields.get("Status", "").split() or ["", "", "not-installed"])[-1]
        if not name or state == "not-installed":
            continue
        arch = fields.get("Architecture", native)
        found[(name, arch)] = (fields, state if version else "config-files")
    return found


def version_key(choice: VersionChoice) -> Any:
    """Sort key: dpkg order of the choice's version."""
    return _cmp_key(choice.version)


def package_facts(
    fields: dict[str, str],
    choice: VersionChoice | None,
    files: list[IndexFile],
    name: str,
    arch: str,
) -> Package:
    """Facts of one version: its own control fields plus the origins of the files carrying it."""
    meta = choice.fields if choice and choice.fields else fields
    version = (choice.version if choice else "") or fields.get("Version", "")
    origins = tuple(dict.fromkeys(files[i].origin for i in choice.files)) if choice else ()
    archives = [o.archive or o.codename for o in origins if o.archive or o.codename]
    src, src_version = source_of(meta, name, version)
    security = any(is_security_origin(o) for o in origins)
    section = meta.get("Section", "")
    return Package(
        name=name,
        arch=arch,
        version=version,
        source_name=src,
        source_version=src_version,
        repository=",".join(dict.fromkeys(archives)),
        origins=origins,
        classification="Security" if security else "",
        priority=meta.get("Priority", ""),
        section=section.rsplit("/", 1)[-1],
        update_notice=security,
    )


def cached_deb(root: Path, pkg: Package) -> Path:
    """Where apt keeps a downloaded .deb of this version (``:`` is stored as ``%3a``)."""
    version = pkg.version.replace(":", "%3a")
    return root / "var/cache/apt/archives" / f"{pkg.name}_{version}_{pkg.arch}.deb"
