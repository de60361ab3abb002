"""Vulnerabilities across the fleet: one row per vulnerability (``/vulnerabilities``) or per
package (``?by=package``), the vulnerability database's status, and one vulnerability's
affected nodes (``/vulnerabilities/{id}``).

The findings are those ``GET /api/v1/findings`` answers with, read by the same query
(:func:`~patchwarden.adapters.storage.queries.findings.active_findings`), ordered by
:func:`~patchwarden.pipeline.assess.display_order` and shown as
:func:`~patchwarden.render.json.finding_dict` gives them; the counts per severity are the
API's (of the filtered list).  The database status is ``GET /api/v1/findings/database``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from patchwarden.adapters.storage.queries import findings as reads
from patchwarden.core.vuln import FindingStatus, FixAvailable, Severity
from patchwarden.pipeline.assess import display_order
from patchwarden.render.json import finding_dict
from patchwarden.server.db import Now, ReadDB, Session, Settings
from patchwarden.server.routes.findings import vulnerability_database
from patchwarden.server.routes.suppressions import list_suppressions
from patchwarden.server.web import charts
from patchwarden.server.web.render import page
from patchwarden.server.web.session import ConsoleError, current

router = APIRouter(include_in_schema=False)
SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
"""Most severe first (UNTRIAGED last)."""
RANK = {s.value: s.rank for s in Severity}
STATUSES = tuple(s.value for s in FindingStatus)
FIXES = tuple(f.value for f in FixAvailable)
Row = dict[str, Any]


class Refused(ValueError):
    """A filter value the API would refuse (400)."""


def _choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """The API's rule for a filter: empty is none, else one of ``allowed`` (any case)."""
    if value is None or value == "":
        return None
    upper = value.upper()
    if upper not in allowed:
        raise Refused(f"{name}: must be one of {', '.join(allowed)}")
    return upper


def fleet(
    session: Session,
    *,
    severity: str | None,
    status: str | None,
    package: str | None,
    fix: str | None,
) -> tuple[list[Row], dict[str, int]]:
    """The findings ``GET /api/v1/findings`` lists for these filters (``fix``: only those
    whose fix availability is that), in its order and shape, and the counts per severity."""
    rows = reads.active_findings(session, severity=severity, status=status, package=package)
    rows.sort(key=lambda row: (display_order(row[2]), row[0]))
    if fix is not None:
        rows = [row for row in rows if row[2].fix_available.value == fix]
    counts = Counter(f.severity.value for _, _, f in rows)
    found = [
        {"node_id": node_id, "hostname": hostname, **finding_dict(f)}
        for node_id, hostname, f in rows
    ]
    return found, {s: counts.get(s, 0) for s in SEVERITIES}


def _worst(severities: Iterable[str]) -> str:
    return max(severities, key=lambda s: RANK[s], default=Severity.UNTRIAGED.value)


def _fix(values: Iterable[str]) -> str:
    """YES when every finding has a fix, NO when none has, else PARTIAL."""
    seen = set(values)
    if seen == {FixAvailable.YES.value}:
        return FixAvailable.YES.value
    if seen <= {FixAvailable.NO.value}:
        return FixAvailable.NO.value
    return FixAvailable.PARTIAL.value


def by_vulnerability(findings: list[Row]) -> list[Row]:
    """One row per vulnerability (in the findings' order: most severe first)."""
    groups: dict[str, list[Row]] = {}
    for f in findings:
        groups.setdefault(f["vulnerability_id"], []).append(f)
    out = []
    for vid, group in groups.items():
        epss = [f["epss"] for f in group if f["epss"] is not None]
        due = sorted(f["kev_due_date"] for f in group if f["kev_due_date"])
        cvss = [f["cvss_score"] for f in group if f["cvss_score"] is not None]
        out.append(
            {
                "vulnerability_id": vid,
                "title": next((f["title"] for f in group if f["title"]), ""),
                "severity": _worst(f["severity"] for f in group),
                "cvss_score": max(cvss) if cvss else None,
                "known_exploited": any(f["known_exploited"] for f in group),
                "kev_due_date": due[0] if due else None,
                "epss": max(epss) if epss else None,
                "nodes": len({f["node_id"] for f in group}),
                "packages": sorted({f["package_name"] for f in group}),
                "fixed_versions": sorted({f["fixed_version"] for f in group if f["fixed_version"]}),
                "fix_available": _fix(f["fix_available"] for f in group),
                "findings": len(group),
            }
        )
    return out


def by_package(findings: list[Row]) -> list[Row]:
    """One row per package name: its vulnerabilities, worst severity, nodes, fixed versions
    (most severe first, then by name)."""
    groups: dict[str, list[Row]] = {}
    for f in findings:
        groups.setdefault(f["package_name"], []).append(f)
    out = [
        {
            "package_name": name,
            "vulnerabilities": len({f["vulnerability_id"] for f in group}),
            "severity": _worst(f["severity"] for f in group),
            "nodes": len({f["node_id"] for f in group}),
            "installed_versions": sorted({f["package_version"] for f in group}),
            "fixed_versions": sorted({f["fixed_version"] for f in group if f["fixed_version"]}),
            "fix_available": _fix(f["fix_available"] for f in group),
        }
        for name, group in groups.items()
    ]
    return sorted(out, key=lambda row: (-RANK[row["severity"]], row["package_name"]))


@router.get("/vulnerabilities", response_class=HTMLResponse)
def vulnerabilities_page(
    request: Request,
    session: ReadDB,
    settings: Settings,
    by: str = "cve",
    severity: str | None = None,
    status: str | None = None,
    package: str | None = None,
    fix: str | None = None,
) -> HTMLResponse:
    """Findings of the fleet by vulnerability or by package, with filters and the counts
    per severity; ``status`` is ACTIVE unless the form says otherwise (empty: any)."""
    who = current(request)
    wanted = {
        "by": "package" if by == "package" else "cve",
        "severity": (severity or "").upper(),
        "status": "ACTIVE" if status is None else status.upper(),
        "package": (package or "").strip()[:256],
        "fix": (fix or "").upper(),
    }
    database = vulnerability_database(who.who, settings)
    context: dict[str, Any] = {
        "wanted": wanted,
        "severities": SEVERITIES,
        "statuses": STATUSES,
        "fixes": FIXES,
        "database": database,
        "classes": charts.STATE_CLASSES,
        "error": "",
    }
    try:
        findings, counts = fleet(
            session,
            severity=_choice("severity", wanted["severity"], SEVERITIES),
            status=_choice("status", wanted["status"], STATUSES),
            package=wanted["package"] or None,
            fix=_choice("fix", wanted["fix"], FIXES),
        )
    except Refused as exc:
        context.update(error=str(exc), rows=[], counts={}, count=0, bar="")
        return page(request, "vulnerabilities.html", who, context, status=400)
    label = "findings by severity: " + ", ".join(f"{counts[s]} {s.lower()}" for s in SEVERITIES)
    context.update(
        count=len(findings),
        counts=counts,
        bar=charts.bar(counts, SEVERITIES, label),
        rows=by_package(findings) if wanted["by"] == "package" else by_vulnerability(findings),
    )
    return page(request, "vulnerabilities.html", who, context)


def _suppressions_naming(listed: list[Row], vulnerability: list[str]) -> list[Row]:
    """Stored fleet suppressions whose ``VulnerabilityIds`` match the vulnerability or one of
    its aliases (other criteria — packages, nodes, tags — decide per node)."""
    ids = [i.upper() for i in vulnerability]
    return [
        s
        for s in listed
        if any(fnmatchcase(i, g.upper()) for i in ids for g in s["vulnerability_ids"])
    ]


@router.get("/vulnerabilities/{vulnerability_id}", response_class=HTMLResponse)
def vulnerability_page(
    request: Request, vulnerability_id: str, session: ReadDB, at: Now
) -> HTMLResponse:
    """One vulnerability: every node with a finding of it (any status), with links to the
    nodes, and whether a fleet suppression applies."""
    who = current(request)
    wanted = vulnerability_id.strip().upper()
    found, _ = fleet(session, severity=None, status=None, package=None, fix=None)
    findings = [
        f
        for f in found
        if f["vulnerability_id"].upper() == wanted or wanted in (a.upper() for a in f["aliases"])
    ]
    if not findings:
        raise ConsoleError(404, f"no node has a finding of {vulnerability_id}")
    (summary,) = by_vulnerability(
        [{**f, "vulnerability_id": findings[0]["vulnerability_id"]} for f in findings]
    )
    aliases = sorted({a for f in findings for a in f["aliases"]})
    listed = list_suppressions(who.who, session, at)
    context = {
        "summary": summary,
        "findings": findings,
        "aliases": aliases,
        "sources": sorted({s for f in findings for s in f["sources"]}),
        "suppressions": _suppressions_naming(listed, [summary["vulnerability_id"], *aliases]),
        "active": sum(1 for f in findings if f["status"] == FindingStatus.ACTIVE.value),
        "suppressed": sum(1 for f in findings if f["status"] == FindingStatus.SUPPRESSED.value),
        "classes": charts.STATE_CLASSES,
    }
    return page(request, "vulnerability.html", who, context)
