"""Benchmark: ``core.matching.match`` versus a naive nested-loop matcher, same run, same data.

Synthesises a Debian-tracker-shaped advisory set (default ≈ 50,000 CVEs over ≈ 30,000
source packages, each (CVE, package) stated for 4 releases with the tracker's mix of
fixed / not-affected / open / undetermined / won't-fix, plus OSV DSA records aliasing 15 %
of them) and a 5,000-binary Debian 12 inventory (≈ 2,500 source packages, the most
vulnerable ones included, binNMUs and epochs among them).

- the store: list-backed in memory (a dict index on (ecosystem, package), what the port
  promises), and the real SQLite database (``patchwarden.adapters.vulndb``) when importable;
- ``match``: the matcher on what the store returned (median of ``--runs``); the SQLite rows
  are fresh objects, as in ``scan --vulns`` (the synthesised set itself is ``gc.freeze()``-d:
  a real process does not hold it);
- naive: every advisory of the release x every installed package, each pair evaluated
  afresh, aliases and precedence resolved by brute force — its findings must equal
  ``match``'s (asserted).

Prints a Markdown table.  Not a test: nothing asserts on time.
Usage: ``.venv/bin/python bench/matching.py [--cves 50000] [--sources 30000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.core.aliases import cve_key, is_cve
from patchwarden.core.cvss import severity_of
from patchwarden.core.matching import SOURCE_PRECEDENCE, evaluate, match, query_names
from patchwarden.core.model import InstalledPackage, Inventory, OsInfo, Package
from patchwarden.core.versions import COMPARATORS
from patchwarden.core.vuln import Advisory, AdvisoryStatus, Finding, FixAvailable
from patchwarden.errors import InputError
from patchwarden.pipeline.assess import assess
from patchwarden.ports import FeedStatus

NOW = datetime(2026, 11, 27, tzinfo=UTC)
DEBIAN12 = OsInfo("debian", "12", "bookworm", "Debian 12", "debian", "DEBIAN", "Debian12")
RELEASES = ("Debian:11", "Debian:12", "Debian:13", "Debian:sid")
URGENCIES = ("unimportant", "low", "medium", "high", "not yet assigned")
VECTORS = (
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
    "",
)


MIXES = {
    # fixed below / at / above the installed version, not affected, open, undetermined,
    # won't fix (ignored, postponed, end-of-life)
    "tracker": (0.55, 0.10, 0.05, 0.15, 0.08, 0.02, 0.05),
    "heavy": (0.35, 0.20, 0.20, 0.05, 0.10, 0.03, 0.07),
}
"""Status mixes per (CVE, package, release).  ``tracker``: roughly what the Debian tracker
says about a stable release (most CVEs fixed before or at the release version, a few
pending updates, open entries mostly minor); ``heavy``: twice the affected share."""


class ListStore:
    """The AdvisoryStore port over an in-memory index."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self.index: dict[tuple[str, str], list[Advisory]] = {}
        for a in advisories:
            self.index.setdefault((a.ecosystem, a.package), []).append(a)

    def advisories(self, ecosystem: str, packages: Iterable[str]) -> list[Advisory]:
        return [a for p in packages for a in self.index.get((ecosystem, p), ())]

    def feeds(self) -> list[FeedStatus]:
        return [FeedStatus("debian-tracker", NOW, sum(map(len, self.index.values())))]


def synthesise(
    cves: int, sources: int, rng: random.Random, mix: tuple[float, ...] = MIXES["tracker"]
) -> tuple[list[Advisory], dict[str, str]]:
    """(advisories, source package → its Debian 12 version)."""
    names = [f"src{i:05d}" for i in range(sources)]
    versions = {}
    for name in names:
        epoch = "1:" if rng.random() < 0.05 else ""
        dfsg = "+dfsg" if rng.random() < 0.1 else ""
        versions[name] = (
            f"{epoch}{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}{dfsg}"
            f"-{rng.randint(1, 6)}"
        )
    weights = list(  # a few sources get thousands, like linux in the real tracker
        itertools.accumulate(1 / (i + 1) ** 0.9 for i in range(sources))
    )
    out: list[Advisory] = []
    for n in range(cves):
        cve = f"CVE-{2005 + n % 21}-{10000 + n}"
        for name in sorted(
            set(rng.choices(names, cum_weights=weights, k=rng.choice((1, 1, 1, 2, 3))))
        ):
            base = versions[name]
            urgency = rng.choice(URGENCIES)
            vector = rng.choice(VECTORS)
            for eco in RELEASES:
                status, fixed = _tracker_status(base, rng, mix)
                out.append(
                    Advisory(cve, "debian-tracker", eco, name, status, fixed,
                             vendor_severity=urgency, summary=f"{name}: issue {n}")
                )  # fmt: skip
            if rng.random() < 0.15:
                fixed = base + f"+deb12u{rng.randint(1, 3)}"
                out.append(
                    Advisory(f"DSA-{n}-1", "osv", "Debian:12", name, AdvisoryStatus.FIXED, fixed,
                             events=(("introduced", "0"), ("fixed", fixed)), aliases=(cve,),
                             cvss_vector=vector)
                )  # fmt: skip
    return out, versions


def _tracker_status(
    base: str, rng: random.Random, mix: tuple[float, ...]
) -> tuple[AdvisoryStatus, str | None]:
    roll = rng.random()
    bounds = list(itertools.accumulate(mix))
    if roll < bounds[0]:
        return AdvisoryStatus.FIXED, base + f"~deb12u{rng.randint(1, 3)}"  # below: backport
    if roll < bounds[1]:
        return AdvisoryStatus.FIXED, base
    if roll < bounds[2]:
        return AdvisoryStatus.FIXED, base + f"+deb12u{rng.randint(1, 3)}"
    if roll < bounds[3]:
        return AdvisoryStatus.NOT_AFFECTED, None
    if roll < bounds[4]:
        return AdvisoryStatus.AFFECTED, None
    if roll < bounds[5]:
        return AdvisoryStatus.UNDETERMINED, None
    return AdvisoryStatus.WONT_FIX, None


def inventory(versions: dict[str, str], binaries: int, rng: random.Random) -> Inventory:
    names = list(versions)
    chosen = names[:300] + rng.sample(names[300:], k=min(len(names) - 300, binaries // 2 - 300))
    packages: list[InstalledPackage] = []
    while len(packages) < binaries:
        for src in chosen:
            if len(packages) >= binaries:
                break
            version = versions[src]
            binnmu = rng.random() < 0.1
            packages.append(
                InstalledPackage(
                    Package(f"{src}-bin{len(packages)}", "amd64",
                            version + ("+b1" if binnmu else ""), source_name=src,
                            source_version=version)
                )
            )  # fmt: skip
    return Inventory(DEBIAN12, "bench", "/", "deb", tuple(packages), ())


# -- the naive reference ---------------------------------------------------------------------


def naive(inv: Inventory, advisories: list[Advisory], eco: str) -> list[tuple[object, ...]]:
    """Every advisory x every package; aliases by graph search; precedence by brute force."""
    compare = COMPARATORS["deb"]
    rank = SOURCE_PRECEDENCE.get
    pkgs = [ip.package for ip in inv.installed]
    pairs: list[tuple[Package, Advisory, object]] = []
    relevant: list[Advisory] = []
    for adv in advisories:
        if adv.ecosystem != eco:
            continue
        hit = False
        for pkg in pkgs:
            if adv.package == pkg.source_name:
                hit = True
                try:
                    verdict = evaluate(adv, pkg.source_version, compare)
                except InputError:
                    continue
                pairs.append((pkg, adv, verdict))
        if hit:
            relevant.append(adv)
    group_of, component = _naive_groups(relevant)
    members_of: dict[str, list[Advisory]] = {}
    for adv in relevant:
        for g in group_of[id(adv)]:
            members_of.setdefault(g, []).append(adv)
    by: dict[tuple[str, str, str], list[tuple[Advisory, object]]] = {}
    for pkg, adv, verdict in pairs:
        for g in group_of[id(adv)]:
            by.setdefault((pkg.name, pkg.arch, g), []).append((adv, verdict))
    rows: list[tuple[object, ...]] = []
    for (name, arch, g), found in by.items():
        top = max(rank(a.source, 0) for a, _ in found)
        best = [(a, v) for a, v in found if rank(a.source, 0) == top]
        if not any(v.affected for _, v in best):  # type: ignore[attr-defined]
            continue
        best = [(a, v) for a, v in best if v.affected]  # type: ignore[attr-defined]
        hits = [v for _, v in best]
        fixes = [v.fixed_version for v in hits]  # type: ignore[attr-defined]
        fixed = None
        if all(fixes):
            fixed = fixes[0]
            for f in fixes:
                fixed = f if compare(f, fixed) > 0 else fixed
        members = sorted(
            members_of[g], key=lambda a: (-rank(a.source, 0), a.source, a.package, a.id)
        )
        ids = _naive_ids(component.get(g, {g}), members)
        cves = sorted((i for i in ids if is_cve(i)), key=cve_key)
        top_ids = [a.id for a in members if rank(a.source, 0) == rank(members[0].source, 0)]
        primary = cves[0] if cves else min(top_ids)
        specific = sorted(
            (a for a, _ in best), key=lambda a: (-rank(a.source, 0), a.source, a.package, a.id)
        )
        severity = severity_of(specific, members)[0]
        rows.append((primary, tuple(sorted(ids - {primary})), name, arch, fixed, severity))
    return _with_partial(rows)


def _naive_groups(
    advisories: list[Advisory],
) -> tuple[dict[int, tuple[str, ...]], dict[str, set[str]]]:
    """(advisory → the groups it speaks for, group → its ids), by graph search."""
    edges: dict[str, set[str]] = {}
    for a in advisories:
        ids = [a.id, *a.aliases]
        if sum(map(is_cve, ids)) <= 1:
            for x in ids:
                edges.setdefault(x, set()).update(ids)
        else:
            for x in ids:
                if is_cve(x):
                    edges.setdefault(x, set()).add(x)
    label: dict[str, str] = {}
    component: dict[str, set[str]] = {}
    for start in edges:
        if start in label:
            continue
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        name = min(seen)
        component[name] = seen
        for x in seen:
            label[x] = name
    out = {}
    for a in advisories:
        cves = [i for i in (a.id, *a.aliases) if is_cve(i)]
        out[id(a)] = tuple(sorted({label[c] for c in cves})) if len(cves) > 1 else (label[a.id],)
    return out, component


def _naive_ids(component: set[str], members: list[Advisory]) -> set[str]:
    ids = set(component)
    for a in members:
        if sum(map(is_cve, (a.id, *a.aliases))) > 1:
            ids.update(i for i in (a.id, *a.aliases) if not is_cve(i))
    return ids


def _with_partial(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    kinds: dict[object, set[bool]] = {}
    for r in rows:
        kinds.setdefault(r[0], set()).add(r[4] is not None)
    out = []
    for r in rows:
        fix = (
            FixAvailable.PARTIAL
            if len(kinds[r[0]]) == 2
            else (FixAvailable.YES if r[4] is not None else FixAvailable.NO)
        )
        out.append((*r, fix))
    return sorted(out, key=lambda r: (str(r[0]), str(r[2]), str(r[3])))


def project(findings: Iterable[Finding]) -> list[tuple[object, ...]]:
    """The fields both matchers decide, in one order."""
    return sorted(
        (
            (f.vulnerability_id, f.aliases, f.package_name, f.package_arch, f.fixed_version,
             f.severity, f.fix_available)
            for f in findings
        ),
        key=lambda r: (str(r[0]), str(r[2]), str(r[3])),
    )  # fmt: skip


# -- timing ----------------------------------------------------------------------------------


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def sqlite_store(advisories: list[Advisory], directory: Path) -> tuple[object, float] | None:
    try:
        from patchwarden.adapters.vulndb import SqliteVulnDb
        from patchwarden.ports import SourceUpdate
    except ImportError:
        return None
    db = SqliteVulnDb(directory / "vulndb.sqlite")
    start = time.perf_counter()
    db.rebuild([SourceUpdate("debian-tracker", "bench:", advisories)], {"debian-tracker"}, NOW)
    return db, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cves", type=int, default=50_000)
    parser.add_argument("--sources", type=int, default=30_000)
    parser.add_argument("--binaries", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mix", choices=sorted(MIXES), default="tracker", help="status mix")
    parser.add_argument("--no-naive", action="store_true", help="skip the nested loop")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite store")
    args = parser.parse_args()
    rng = random.Random(20261127)
    start = time.perf_counter()
    advisories, versions = synthesise(args.cves, args.sources, rng, MIXES[args.mix])
    inv = inventory(versions, args.binaries, rng)
    made = time.perf_counter() - start
    eco = "Debian:12"
    names = query_names(inv, "deb")
    store = ListStore(advisories)
    release = [a for a in advisories if a.ecosystem == eco]
    # A real process never holds the whole data set (the database is on disk): keep the
    # generator's 300k+ objects out of the garbage collector's full passes.
    gc.collect()
    gc.freeze()
    t_query, asked = timed(lambda: store.advisories(eco, names), args.runs)
    asked_list: list[Advisory] = asked  # type: ignore[assignment]
    t_match, result = timed(lambda: match(inv, asked_list, eco), args.runs)
    findings = result.findings  # type: ignore[attr-defined]
    rows = [
        ("list store query", t_query, ""),
        ("`match()`", t_match, ""),
        ("list store query + `match()`", t_query + t_match, "1.00x"),
    ]
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="pw-bench-vulndb-") as tmp:
            built = sqlite_store(advisories, Path(tmp))
            if built is not None:
                db, t_build = built
                query: Callable[[], list[Advisory]] = lambda: db.advisories(eco, names)  # type: ignore[attr-defined]  # noqa: E731
                t_sql, _ = timed(query, args.runs)
                t_both, via_db = timed(lambda: match(inv, query(), eco), args.runs)
                assert project(via_db.findings) == project(findings)  # type: ignore[attr-defined]
                t_use, _ = timed(lambda: assess(inv, NOW, store=db), args.runs)  # type: ignore[arg-type]
                rows.append(("SQLite store query", t_sql, ""))
                rows.append(("SQLite store query + `match()`", t_both, ""))
                rows.append(
                    ("`assess()` on the SQLite store (what `scan --vulns` runs)", t_use, "")
                )
                print(f"(SQLite database of {len(advisories):,} advisories built in "
                      f"{t_build:.1f} s)", file=sys.stderr)  # fmt: skip
    if not args.no_naive:
        t_naive, reference = timed(lambda: naive(inv, release, eco), 1)
        assert reference == project(findings), "naive and match() disagree"
        rows.append(("naive nested loop (same findings)", t_naive,
                     f"{t_naive / (t_query + t_match):,.0f}x"))  # fmt: skip
    srcs = len({p.package.source_name for p in inv.installed})
    print(
        f"{len(advisories):,} advisories ({args.cves:,} CVEs, {args.sources:,} source packages, "
        f"{len(RELEASES)} releases; {len(release):,} for {eco}), inventory of "
        f"{len(inv.installed):,} binaries from {srcs:,} sources; store returned "
        f"{len(asked_list):,} advisories → {len(findings):,} findings "
        f"(data synthesised in {made:.1f} s)\n"
    )
    print("| step | median s | ratio to query + match |")
    print("|---|---|---|")
    for label, seconds, ratio in rows:
        print(f"| {label} | {seconds:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
