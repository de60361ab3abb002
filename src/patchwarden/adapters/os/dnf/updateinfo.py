"""updateinfo.xml: the update notices (advisories) of an rpm repository, and what they say
about one package version.

A notice (``<update type="security">``) names an advisory (``RHSA-2024:1234``,
``ALAS2023-2024-500``), its severity, issued/updated dates, CVE and Bugzilla references and
the exact NEVRAs that carry the fix (``<pkglist>``).  As in SSM, a notice *covers* a version
when its pkglist names that very NEVRA; :func:`notice_facts` merges the notices covering one
version into the facts of a :class:`~patchwarden.core.model.Package`.

Parsed with the standard library's ``iterparse`` (each ``<update>`` is dropped once read),
so memory stays flat on the 10-MB files of real distributions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from xml.etree import ElementTree

from patchwarden.errors import EnvironmentProblem

Nevra = tuple[str, int, str, str, str]
"""(name, epoch, version, release, arch) exactly as rpm and updateinfo spell them."""

_CVE = re.compile(r"CVE-\d{4}-\d+", re.IGNORECASE)
_TYPE_RANK = {"security": 3, "bugfix": 2, "enhancement": 1}
_SEVERITY_RANK = {"critical": 4, "important": 3, "high": 3, "moderate": 2, "medium": 2, "low": 1}


@dataclass(frozen=True)
class Notice:
    """One ``<update>`` of updateinfo.xml."""

    id: str
    type: str
    """As published, lower-cased: ``security``, ``bugfix``, ``enhancement``, ``newpackage``."""
    severity: str
    """As published (``Critical``, ``important``…); empty when there is none."""
    issued: datetime | None
    updated: datetime | None
    cve_ids: tuple[str, ...]
    bugzilla_ids: tuple[str, ...]
    packages: tuple[Nevra, ...]

    @property
    def released(self) -> datetime | None:
        """The release date SSM uses: ``updated``, else ``issued``, else none (§1.6)."""
        return self.updated or self.issued


@dataclass(frozen=True)
class NoticeFacts:
    """What the notices covering one package version say about it."""

    classification: str
    severity: str
    release_date: datetime | None
    advisory_ids: tuple[str, ...]
    cve_ids: tuple[str, ...]
    bugzilla_ids: tuple[str, ...]


def parse_date(value: str | None) -> datetime | None:
    """A notice date: epoch seconds (``1736942400``), ``YYYY-MM-DD[ HH:MM[:SS]]``, ISO 8601
    with ``T``/``Z``, or a trailing `` UTC``.  Unparseable dates are ``None`` (SSM counts
    them as 1970, which passes every delay)."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = text.removesuffix(" UTC").removesuffix("Z").replace("T", " ", 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _epoch(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _notice(elem: ElementTree.Element) -> Notice:
    cves: list[str] = []
    bugs: list[str] = []
    for ref in elem.iterfind("references/reference"):
        kind = (ref.get("type") or "").lower()
        ref_id = (ref.get("id") or "").strip()
        if kind == "cve":
            found = _CVE.search(ref_id) or _CVE.search(ref.get("href") or "")
            if found:
                cves.append(found.group(0).upper())
        elif kind == "bugzilla" and ref_id:
            bugs.append(ref_id)
    packages = tuple(
        (
            pkg.get("name", ""),
            _epoch(pkg.get("epoch")),
            pkg.get("version", ""),
            pkg.get("release", ""),
            pkg.get("arch", ""),
        )
        for pkg in elem.iterfind("pkglist/collection/package")
    )
    issued, updated = elem.find("issued"), elem.find("updated")
    return Notice(
        id=(elem.findtext("id") or "").strip(),
        type=(elem.get("type") or "").strip().lower(),
        severity=(elem.findtext("severity") or "").strip(),
        issued=parse_date(issued.get("date") if issued is not None else None),
        updated=parse_date(updated.get("date") if updated is not None else None),
        cve_ids=tuple(dict.fromkeys(cves)),
        bugzilla_ids=tuple(dict.fromkeys(bugs)),
        packages=packages,
    )


def iter_notices(
    stream: IO[bytes] | io.BufferedIOBase, source: str = "updateinfo.xml"
) -> Iterator[Notice]:
    """The notices of an updateinfo document, one by one.

    Raises :class:`EnvironmentProblem` naming ``source`` when the document is not well-formed
    XML or not updateinfo (a truncated download, a wrong file).
    """
    try:
        root: ElementTree.Element | None = None
        for event, elem in ElementTree.iterparse(stream, events=("start", "end")):
            tag = elem.tag.rsplit("}", 1)[-1]
            if root is None:
                if tag != "updates":
                    raise EnvironmentProblem(
                        f"{source}: not an updateinfo document (root element <{tag}>)"
                    )
                root = elem
            elif event == "end" and tag == "update":
                yield _notice(elem)
                root.clear()  # drop what was read: memory stays flat
    except (ElementTree.ParseError, EOFError, OSError, LookupError, ValueError) as exc:  # encoding
        raise EnvironmentProblem(
            f"corrupt update metadata {source}: {exc} (a truncated download or a broken "
            "repository; patchwarden scan --refresh fetches it again)"
        ) from exc


def index_notices(notices: Iterable[Notice]) -> dict[Nevra, list[Notice]]:
    """The notices covering each NEVRA (a NEVRA may be fixed by several notices)."""
    index: dict[Nevra, list[Notice]] = {}
    for notice in notices:
        for nevra in dict.fromkeys(notice.packages):
            index.setdefault(nevra, []).append(notice)
    return index


def classification_of(notice_type: str) -> str:
    """The SSM CLASSIFICATION value of an updateinfo type (``bugfix`` → ``Bugfix``)."""
    return notice_type[:1].upper() + notice_type[1:].lower()


def severity_of(severity: str) -> str:
    """Vendor severity capitalised as SSM shows it (``important`` → ``Important``)."""
    return severity[:1].upper() + severity[1:].lower() if severity else ""


def _rank(notice: Notice) -> tuple[int, int]:
    return (_TYPE_RANK.get(notice.type, 0), _SEVERITY_RANK.get(notice.severity.lower(), 0))


def notice_facts(notices: Iterable[Notice]) -> NoticeFacts | None:
    """Merge the notices covering one version; ``None`` when none does.

    The most severe notice gives the classification, the vendor severity and the release
    date (security before bugfix before enhancement before anything else; then Critical,
    Important, Moderate/Medium, Low; the first listed wins a tie); advisory, CVE and Bugzilla
    ids are the union of all of them.
    """
    ordered = list(notices)
    if not ordered:
        return None
    chosen = max(ordered, key=_rank)
    return NoticeFacts(
        classification=classification_of(chosen.type),
        severity=severity_of(chosen.severity),
        release_date=chosen.released,
        advisory_ids=tuple(dict.fromkeys(n.id for n in ordered if n.id)),
        cve_ids=tuple(sorted({c for n in ordered for c in n.cve_ids})),
        bugzilla_ids=tuple(dict.fromkeys(b for n in ordered for b in n.bugzilla_ids)),
    )
