"""The Alpine security database (``https://secdb.alpinelinux.org/<branch>/<repo>.json``).

Shape (JSON today, YAML in the 2020 ``alpine-secdb`` repository): ``{distroversion: v3.20,
reponame, archs, urlprefix, apkurl, packages: [{pkg: {name, secfixes: {"<fixed version>":
[ids…]}}}]}``.  One file is one branch and repository (a few hundred KB), parsed whole.

Each (package, fixed version, id) is a FIXED advisory in ``Alpine:<distroversion>`` for
the origin package ``name``; version ``0`` means never affected (NOT_AFFECTED).  Ids are
normalised: every ``CVE-YYYY-N`` token of an entry is an id of its own (``CVE_2019-2426``
and ``CVE-2017-8073.patch`` included) and the entry's other tokens (``TALOS-…``, ``XSA-…``)
become its aliases; an entry without a CVE is an id as written (``XSA-207``,
``wnpa-sec-2017-18``); ``CVE 2018-16859`` (a space) is read as ``CVE-2018-16859``.
Malformed versions (``1.18.-r2``, ``2.7.16-33``) are dropped and counted in one warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from patchwarden.adapters.feeds.common import Tally, Warn, feed_error
from patchwarden.core.vuln import Advisory, AdvisoryStatus

SOURCE = "alpine-secdb"
_CVE = re.compile(r"CVE[-_ ](\d{4})-(\d{4,})", re.IGNORECASE)
_OTHER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][\w.:-]*$")
_APK_VERSION = re.compile(
    r"^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(~[0-9a-f]+)?(-r\d+)?$"
)
_BRANCH = re.compile(r"^v?(\d+\.\d+)$")

try:
    _Loader: type[Any] = yaml.CBaseLoader
except AttributeError:  # PyYAML without libyaml
    _Loader = yaml.BaseLoader


def normalise_ids(entry: str) -> list[tuple[str, tuple[str, ...]]]:
    """``"CVE-2016-6258 XSA-182"`` → ``[("CVE-2016-6258", ("XSA-182",))]``."""
    cves = list(dict.fromkeys(f"CVE-{y}-{n}" for y, n in _CVE.findall(entry)))
    if cves:
        rest = _CVE.sub(" ", entry).replace(",", " ").split()
        others = tuple(
            dict.fromkeys(t for t in rest if _OTHER_ID.match(t) and not t.upper().startswith("CVE"))
        )
        return [(cve, others) for cve in cves]
    return [(token, ()) for token in dict.fromkeys(entry.replace(",", " ").split())]


def ecosystem(distroversion: str) -> str:
    """``v3.11`` (or ``3.11``) → ``Alpine:v3.11``; ``edge`` → ``Alpine:edge``."""
    match = _BRANCH.match(distroversion)
    return f"Alpine:v{match.group(1)}" if match else f"Alpine:{distroversion}"


def parse(path: Path, warn: Warn, feed: str = SOURCE) -> Iterator[Advisory]:
    """The advisories of one secdb file (JSON or YAML)."""
    doc = _load(path, feed)
    branch = doc.get("distroversion") if isinstance(doc, dict) else None
    packages = doc.get("packages") if isinstance(doc, dict) else None
    packages = [] if packages in ("", None) and isinstance(doc, dict) and branch else packages
    if not isinstance(branch, str) or not branch or not isinstance(packages, list):
        raise feed_error(feed, path, "not an Alpine secdb (no distroversion/packages)")
    eco = ecosystem(branch)
    tally = Tally()
    for item in packages:
        pkg = item.get("pkg") if isinstance(item, dict) else None
        name = pkg.get("name") if isinstance(pkg, dict) else None
        if not isinstance(pkg, dict) or not isinstance(name, str) or not name:
            raise feed_error(feed, path, f"malformed package entry {item!r:.80}")
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, dict):
            raise feed_error(feed, path, f"{name}: 'secfixes' is not a mapping")
        for version, ids in secfixes.items():
            yield from _fixes(eco, name, str(version), ids, tally)
    tally.report(warn, f"{feed}: {path.name}")


def _fixes(eco: str, name: str, version: str, ids: object, tally: Tally) -> Iterator[Advisory]:
    if version != "0" and not _APK_VERSION.match(version):
        tally.add("malformed versions dropped", f"{name} {version}")
        return
    entries = ids if isinstance(ids, list) else [ids] if isinstance(ids, str) else []
    status = AdvisoryStatus.NOT_AFFECTED if version == "0" else AdvisoryStatus.FIXED
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, str):
            continue
        for vuln_id, aliases in normalise_ids(entry):
            if vuln_id in seen:
                continue
            seen.add(vuln_id)
            yield Advisory(
                id=vuln_id,
                source=SOURCE,
                ecosystem=eco,
                package=name,
                status=status,
                fixed_version=None if version == "0" else version,
                aliases=aliases,
            )


def _load(path: Path, feed: str) -> object:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read ({exc.strerror or exc})") from None
    if data.lstrip()[:1] == b"{":
        try:
            return json.loads(data)
        except ValueError as exc:
            raise feed_error(feed, path, f"not valid JSON ({exc})") from None
    try:
        return yaml.load(data, Loader=_Loader)  # BaseLoader: strings only, no objects
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise feed_error(feed, path, f"not valid YAML ({problem})") from None
