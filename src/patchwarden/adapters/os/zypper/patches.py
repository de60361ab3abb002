"""SUSE patches: what ``zypper list-patches`` says about them, which package versions each one
ships, and the facts of one package version (classification, severity, release date, CVEs).

zypper's ``--xmlout list-patches --all`` gives every patch of the enabled repositories with
its category, severity, issue date and references; the package versions a patch ships (its
``<pkglist>``) come from the ``updateinfo`` file zypper keeps in its raw metadata cache
(``var/cache/zypp/raw/<alias>/repodata``), read with the rpm adapter's parser.  As in SSM, a
patch *covers* a version when its pkglist names that very NEVRA.

SSM's SUSE vocabulary (reference §1.5, §1.6): CLASSIFICATION is the patch category
(``Security, Recommended, Optional, Feature, Document, Yast``), SEVERITY the patch severity
(``Critical, Important, Moderate, Low``), and the release date the patch's ``created``
(issued) time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

from patchwarden.adapters.os.dnf.repomd import metadata_path, open_metadata
from patchwarden.adapters.os.dnf.updateinfo import Nevra, NoticeFacts, iter_notices
from patchwarden.ports import Runner

RAW_CACHE = "var/cache/zypp/raw"
"""zypper's raw metadata cache, relative to the root (one folder per repository alias)."""

CLASSIFICATIONS = {
    "security": "Security",
    "recommended": "Recommended",
    "optional": "Optional",
    "feature": "Feature",
    "document": "Document",
    "yast": "Yast",
}
"""zypper patch category → SSM CLASSIFICATION."""
SEVERITIES = {
    "critical": "Critical",
    "important": "Important",
    "moderate": "Moderate",
    "low": "Low",
}
"""zypper patch severity → SSM SEVERITY (``unspecified`` has none)."""
_CATEGORY_RANK = {"security": 6, "recommended": 5, "optional": 4, "feature": 3, "yast": 2}
_SEVERITY_RANK = {"critical": 4, "important": 3, "moderate": 2, "low": 1}
_CVE = re.compile(r"CVE-\d{4}-\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Patch:
    """One patch as ``zypper list-patches`` shows it."""

    id: str
    repository: str
    """The alias of the repository it comes from."""
    category: str
    """As zypper prints it, lower-cased: ``security``, ``recommended``…"""
    severity: str
    """As zypper prints it, lower-cased: ``critical``…, or ``unspecified``."""
    created: datetime | None
    status: str
    cve_ids: tuple[str, ...] = ()
    bugzilla_ids: tuple[str, ...] = ()

    @property
    def classification(self) -> str:
        """SSM's CLASSIFICATION of the patch (the category, capitalised as SSM spells it)."""
        return CLASSIFICATIONS.get(self.category, self.category.capitalize())

    @property
    def ssm_severity(self) -> str:
        """SSM's SEVERITY of the patch ("" when zypper says ``unspecified``)."""
        return SEVERITIES.get(self.severity, "")


def parse_patch(elem: ElementTree.Element) -> Patch:
    """A :class:`Patch` from one ``<update kind="patch">`` of ``list-patches --xmlout``."""
    created: datetime | None = None
    issued = elem.find("issue-date")
    stamp = issued.get("time_t", "") if issued is not None else ""
    if stamp.isascii() and stamp.isdigit() and int(stamp) > 0:  # "²".isdigit() too
        try:
            created = datetime.fromtimestamp(int(stamp), UTC)
        except (OverflowError, OSError, ValueError):  # beyond what datetime holds: no date
            created = None
    cves: list[str] = []
    bugs: list[str] = []
    for issue in elem.iterfind("issue-list/issue"):
        kind, ident = (issue.get("type") or "").lower(), (issue.get("id") or "").strip()
        if kind == "cve":
            found = _CVE.search(ident)
            if found:
                cves.append(found.group(0).upper())
        elif kind == "bugzilla" and ident:
            bugs.append(ident)
    source = elem.find("source")
    return Patch(
        id=elem.get("name", ""),
        repository=source.get("alias", "") if source is not None else "",
        category=(elem.get("category") or "").lower(),
        severity=(elem.get("severity") or "").lower(),
        created=created,
        status=elem.get("status", ""),
        cve_ids=tuple(dict.fromkeys(cves)),
        bugzilla_ids=tuple(dict.fromkeys(bugs)),
    )


def updateinfo_file(root: Path, alias: str) -> Path | None:
    """The cached updateinfo of repository ``alias`` (``None`` when it publishes none)."""
    return metadata_path(root / RAW_CACHE / alias, "updateinfo")


def patch_packages(
    root: Path, aliases: Iterable[str], runner: Runner
) -> dict[tuple[str, str], set[Nevra]]:
    """{(repository alias, patch id): NEVRAs its pkglist names}, from the raw cache."""
    shipped: dict[tuple[str, str], set[Nevra]] = {}
    for alias in sorted(set(aliases)):
        path = updateinfo_file(root, alias)
        if path is None:
            continue
        with open_metadata(path, runner) as stream:
            for notice in iter_notices(stream, str(path)):
                shipped.setdefault((alias, notice.id), set()).update(notice.packages)
    return shipped


def index_patches(
    patches: Iterable[Patch], shipped: dict[tuple[str, str], set[Nevra]]
) -> dict[Nevra, list[Patch]]:
    """The patches covering each NEVRA (a NEVRA may be shipped by several patches)."""
    index: dict[Nevra, list[Patch]] = {}
    for patch in patches:
        for nevra in sorted(shipped.get((patch.repository, patch.id), ())):
            index.setdefault(nevra, []).append(patch)
    return index


def _rank(patch: Patch) -> tuple[int, int]:
    return (_CATEGORY_RANK.get(patch.category, 0), _SEVERITY_RANK.get(patch.severity, 0))


def patch_facts(patches: Iterable[Patch]) -> NoticeFacts | None:
    """Merge the patches covering one version; ``None`` when none does.

    The most severe patch gives classification, severity and release date (security before
    recommended before optional before feature before yast before anything else; then
    Critical, Important, Moderate, Low; the first listed wins a tie); patch, CVE and
    Bugzilla ids are the union of all of them.
    """
    ordered = list(patches)
    if not ordered:
        return None
    chosen = max(ordered, key=_rank)
    return NoticeFacts(
        classification=chosen.classification,
        severity=chosen.ssm_severity,
        release_date=chosen.created,
        advisory_ids=tuple(dict.fromkeys(p.id for p in ordered if p.id)),
        cve_ids=tuple(sorted({c for p in ordered for c in p.cve_ids})),
        bugzilla_ids=tuple(dict.fromkeys(b for p in ordered for b in p.bugzilla_ids)),
    )
