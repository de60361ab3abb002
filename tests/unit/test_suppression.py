"""Suppressions (rules, expiry, documents) and the finding lifecycle (CLOSED, reopened),
all with an injected ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.suppression import (
    CLOSED_RETENTION,
    REOPEN_WINDOW,
    FindingRecord,
    Suppression,
    suppress,
    tag_names,
    track,
)
from patchwarden.core.vuln import AdvisoryStatus, Finding, FindingStatus, FixAvailable, Severity
from patchwarden.documents import parse_documents
from patchwarden.documents.suppression import SuppressionDocument
from patchwarden.errors import InputError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NODE = {"web-1", "/"}


def finding(vid: str = "CVE-2024-0001", package: str = "libssl3", **kw: object) -> Finding:
    base = Finding(
        vulnerability_id=vid,
        aliases=("DSA-5678-1",),
        package_name=package,
        package_version="3.0.11-1",
        package_arch="amd64",
        source_name="openssl",
        fixed_version="3.0.11-2",
        fix_available=FixAvailable.YES,
        severity=Severity.HIGH,
        severity_source="cvss",
        advisory_status=AdvisoryStatus.FIXED,
        sources=("debian-tracker",),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def rule(name: str = "accept", **kw: object) -> Suppression:
    fields: dict[str, object] = {"reason": "not reachable", "vulnerability_ids": ("CVE-2024-*",)}
    fields.update(kw)
    return Suppression(name=name, **fields)  # type: ignore[arg-type]


# -- rules -----------------------------------------------------------------------------------


def test_a_rule_needs_a_reason_and_a_criterion() -> None:
    with pytest.raises(InputError, match="Reason"):
        rule(reason="  ")
    with pytest.raises(InputError, match="at least one"):
        rule(vulnerability_ids=())


@pytest.mark.parametrize(
    ("criteria", "hit"),
    [
        ({"vulnerability_ids": ("cve-2024-0001",)}, True),  # ids are case-insensitive
        ({"vulnerability_ids": ("DSA-5678-*",)}, True),  # an alias matches
        ({"vulnerability_ids": ("CVE-2023-*",)}, False),
        ({"vulnerability_ids": (), "packages": ("openssl",)}, True),  # the source name
        ({"vulnerability_ids": (), "packages": ("libssl*",)}, True),
        ({"vulnerability_ids": (), "packages": ("LIBSSL3",)}, False),  # package names are exact
        ({"vulnerability_ids": (), "nodes": ("WEB-*",)}, True),  # host names are not
        ({"vulnerability_ids": (), "nodes": ("db-*",)}, False),
        ({"packages": ("openssl",), "nodes": ("db-*",)}, False),  # every criterion must match
        ({"packages": ("zlib", "openssl"), "nodes": ("web-1",)}, True),  # any glob of one
    ],
)
def test_rule_matching(criteria: dict[str, object], hit: bool) -> None:
    assert rule(**criteria).matches(finding(), NODE) is hit


@pytest.mark.parametrize(
    ("node_tags", "hit"),
    [
        ((("Env", "prod*"),), True),
        ((("Env", "prod*"), ("Team", "web")), True),  # every tag must match
        ((("Env", "prod*"), ("Team", "db")), False),
        ((("env", "prod*"),), False),  # keys are exact
        ((("Owner", "*"),), False),  # a tag the node does not have
    ],
)
def test_node_tags_match_the_nodes_tags(node_tags: tuple[tuple[str, str], ...], hit: bool) -> None:
    names = (*NODE, *tag_names({"Env": "production", "Team": "web"}))
    assert rule(vulnerability_ids=(), node_tags=node_tags).matches(finding(), names) is hit
    assert not rule(vulnerability_ids=(), nodes=("tag:*",)).matches(finding(), names)


def test_suppressed_until_expiry_then_active_again() -> None:
    expiring = rule(expires_at=T0 + timedelta(days=1))
    (before,) = suppress([finding()], [expiring], NODE, T0)
    assert before.status is FindingStatus.SUPPRESSED
    assert (before.suppressed_by, before.suppression_reason) == ("accept", "not reachable")
    (after,) = suppress([before], [expiring], NODE, T0 + timedelta(days=1))
    assert after.status is FindingStatus.ACTIVE
    assert (after.suppressed_by, after.suppression_reason) == ("", "")


def test_first_rule_in_name_order_wins_and_closed_findings_stay_closed() -> None:
    rules = [rule("zz-late"), rule("aa-early", reason="accepted risk")]
    closed = finding("CVE-2024-0002", status=FindingStatus.CLOSED)
    got = suppress([finding(), closed], rules, NODE, T0)
    assert got[0].suppressed_by == "aa-early"
    assert got[1].status is FindingStatus.CLOSED


# -- documents -------------------------------------------------------------------------------

DOC = """\
apiVersion: patchwarden/v1
kind: Suppression
metadata:
  name: accept-openssl
spec:
  Reason: only reachable from localhost
  VulnerabilityIds: ["CVE-2024-0001"]
  Packages: [openssl]
  Nodes: ["web-*"]
  ExpiresAt: {expires}
"""


@pytest.mark.parametrize(
    ("expires", "when"),
    [
        ("2026-06-30", datetime(2026, 6, 30, tzinfo=UTC)),
        ("2026-06-30T08:00:00Z", datetime(2026, 6, 30, 8, tzinfo=UTC)),
        ("'2026-06-30T08:00:00'", datetime(2026, 6, 30, 8, tzinfo=UTC)),
        ("2026-06-30T10:00:00+02:00", datetime(2026, 6, 30, 8, tzinfo=UTC)),
    ],
)
def test_document(expires: str, when: datetime) -> None:
    (doc,) = parse_documents(DOC.format(expires=expires), "s.yaml")
    assert isinstance(doc, SuppressionDocument)
    assert doc.name == "accept-openssl"
    assert doc.suppression == Suppression(
        "accept-openssl",
        "only reachable from localhost",
        ("CVE-2024-0001",),
        ("openssl",),
        ("web-*",),
        when,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("  VulnerabilityIds: [CVE-1]\n", "spec.Reason: required field is missing"),
        ("  Reason: ''\n  Packages: [a]\n", "spec.Reason: must say why"),
        ("  Reason: why\n", "spec: give at least one of"),
        ("  Reason: why\n  Packages: ['']\n", "spec.Packages: entries must not be empty"),
        ("  Reason: why\n  Packages: [a]\n  ExpiresAt: soon\n", "spec.ExpiresAt: 'soon' is not"),
        ("  Reason: why\n  Packages: [a]\n  Action: SUPPRESS\n", "spec.Action: unknown field"),
        ("  Reason: why\n  Packages: openssl\n", "spec.Packages: must be a list"),
    ],
)
def test_bad_documents(spec: str, message: str) -> None:
    text = "apiVersion: patchwarden/v1\nkind: Suppression\nmetadata: {name: s-1}\nspec:\n" + spec
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_documents(text, "s.yaml")


def test_names_are_three_to_sixty_four_characters() -> None:
    text = "apiVersion: patchwarden/v1\nkind: Suppression\nmetadata: {name: ab}\n"
    with pytest.raises(InputError, match=r"s\.yaml: metadata\.name: must be 3 to 64"):
        parse_documents(text + "spec: {Reason: r, Packages: [a]}\n", "s.yaml")


# -- lifecycle -------------------------------------------------------------------------------


def scan(
    history: tuple[FindingRecord, ...], now: datetime, *found: Finding
) -> tuple[dict[str, Finding], tuple[FindingRecord, ...]]:
    reported, kept = track(found, history, now)
    return {f.vulnerability_id: f for f in reported}, kept


def test_first_observed_is_kept_and_last_observed_moves() -> None:
    seen, kept = scan((), T0, finding())
    assert seen["CVE-2024-0001"].first_observed == T0
    seen, kept = scan(kept, T0 + timedelta(days=1), finding())
    assert seen["CVE-2024-0001"].first_observed == T0
    assert seen["CVE-2024-0001"].last_observed == T0 + timedelta(days=1)


def test_a_finding_no_longer_seen_is_closed_and_reopens_within_seven_days() -> None:
    _, kept = scan((), T0, finding(), finding("CVE-2024-0002"))
    t1 = T0 + timedelta(days=1)
    seen, kept = scan(kept, t1, finding("CVE-2024-0002"))
    gone = seen["CVE-2024-0001"]
    assert gone.status is FindingStatus.CLOSED
    assert gone.last_observed == T0
    assert {r.finding.vulnerability_id: r.closed_at for r in kept}["CVE-2024-0001"] == t1
    # still CLOSED (closed_at unchanged) on the next scan
    _, kept = scan(kept, t1 + timedelta(days=2), finding("CVE-2024-0002"))
    assert {r.finding.vulnerability_id: r.closed_at for r in kept}["CVE-2024-0001"] == t1
    # back within 7 days of closing: reopened with its original first_observed
    seen, kept = scan(kept, t1 + REOPEN_WINDOW, finding(), finding("CVE-2024-0002"))
    assert seen["CVE-2024-0001"].status is FindingStatus.ACTIVE
    assert seen["CVE-2024-0001"].first_observed == T0


def test_back_after_seven_days_is_a_new_finding() -> None:
    _, kept = scan((), T0, finding())
    _, kept = scan(kept, T0 + timedelta(days=1), finding("CVE-2024-0002"))
    later = T0 + timedelta(days=1) + REOPEN_WINDOW + timedelta(seconds=1)
    seen, _ = scan(kept, later, finding())
    assert seen["CVE-2024-0001"].first_observed == later


def test_closed_findings_are_forgotten_after_thirty_days() -> None:
    _, kept = scan((), T0, finding())
    t1 = T0 + timedelta(days=1)
    _, kept = scan(kept, t1, finding("CVE-2024-0002"))
    seen, kept = scan(kept, t1 + CLOSED_RETENTION, finding("CVE-2024-0002"))
    assert seen["CVE-2024-0001"].status is FindingStatus.CLOSED
    seen, kept = scan(kept, t1 + CLOSED_RETENTION + timedelta(hours=1), finding("CVE-2024-0002"))
    assert set(seen) == {"CVE-2024-0002"}
    assert [r.finding.vulnerability_id for r in kept] == ["CVE-2024-0002"]


def test_a_renamed_finding_keeps_its_history_through_aliases() -> None:
    dsa_only = finding("DSA-5678-1", aliases=())
    _, kept = scan((), T0, dsa_only)
    seen, kept = scan(kept, T0 + timedelta(days=3), finding())  # CVE assigned later
    assert seen["CVE-2024-0001"].first_observed == T0
    assert "DSA-5678-1" not in seen  # not reported as closed: it is the same finding


def test_a_shared_alias_does_not_join_two_cves() -> None:
    # one DSA fixing two CVEs is an alias of both findings; they stay distinct
    _, kept = scan((), T0, finding("CVE-2024-0001"))
    t1 = T0 + timedelta(days=1)
    seen, _ = scan(kept, t1, finding("CVE-2024-0002"))
    assert seen["CVE-2024-0002"].first_observed == t1
    assert seen["CVE-2024-0001"].status is FindingStatus.CLOSED
