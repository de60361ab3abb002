"""One vulnerability, however many names: advisories joined through their ids and aliases.

A union-find over vulnerability ids: an advisory's id and its aliases (CVE ↔ DSA / DLA / USN
/ GHSA / OSV ids) are one vulnerability.  One exception keeps distinct CVEs apart: an
advisory that names *several* CVEs (a DSA fixing five CVEs) does not join them; it speaks
for each of them separately, and its own id becomes an alias of each.

The name of a vulnerability is its CVE (the lowest, by year then number, if a chain of
aliases reached several), else the id used by the most specific source that reported it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from patchwarden.core.vuln import Advisory


def is_cve(vid: str) -> bool:
    """Whether ``vid`` is a CVE id."""
    return vid.startswith("CVE-")


def cve_key(cve: str) -> tuple[int, int, str]:
    """Sort key of CVE ids by year, then number (``CVE-2024-999`` < ``CVE-2024-1000``)."""
    parts = cve.split("-")
    if len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit():
        return (int(parts[1]), int(parts[2]), cve)
    return (1 << 30, 0, cve)


class AliasGroups:
    """The vulnerabilities of a set of advisories; a group is named by its root id."""

    def __init__(self, advisories: Sequence[Advisory], precedence: Mapping[str, int]) -> None:
        parent: dict[str, str] = {}
        self._parent = parent
        self._precedence = precedence
        multi: list[tuple[Advisory, list[str]]] = []
        joined: set[str] = set()  # ids in a group with other ids
        # advisories by their own id: the first one, and lists only where there are more
        # (one list per id would be tens of thousands of allocations)
        first: dict[str, Advisory] = {}
        more: dict[str, list[Advisory]] = {}
        self._first, self._more = first, more
        for adv in advisories:
            if first.setdefault(adv.id, adv) is not adv:
                more.setdefault(adv.id, []).append(adv)
            if not adv.aliases:  # most tracker entries: a group of its own, or joined later
                parent.setdefault(adv.id, adv.id)
                continue
            ids = (adv.id, *adv.aliases)
            cves = sorted({i for i in ids if is_cve(i)})
            if len(cves) <= 1:
                joined.update(ids)
                for other in ids:
                    self._union(adv.id, other)
            else:
                multi.append((adv, cves))
                for cve in cves:
                    self._find(cve)
        self._ids: dict[str, set[str]] = {}
        for vid in joined:
            self._ids.setdefault(self._find(vid), set()).add(vid)
        self._multi: dict[int, tuple[str, ...]] = {}  # advisories naming several CVEs
        for adv, cves in multi:
            roots = tuple(dict.fromkeys(self._find(c) for c in cves))
            self._multi[id(adv)] = roots
            extra = {i for i in (adv.id, *adv.aliases) if not is_cve(i)}
            for root in roots:
                self._ids.setdefault(root, {root}).update(extra)
        self._names: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _find(self, vid: str) -> str:
        parent = self._parent
        root = parent.setdefault(vid, vid)
        while parent[root] != root:
            root = parent[root]
        while parent[vid] != root:  # path compression
            parent[vid], vid = root, parent[vid]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def root(self, adv: Advisory) -> str | None:
        """The vulnerability ``adv`` speaks for; ``None`` when it names several CVEs."""
        if self._multi and id(adv) in self._multi:
            return None
        vid = adv.id
        return vid if self._parent[vid] == vid else self._find(vid)

    def roots(self, adv: Advisory) -> tuple[str, ...]:
        """The vulnerabilities ``adv`` speaks for (one, or one per CVE it names)."""
        one = self.root(adv)
        return (one,) if one is not None else self._multi[id(adv)]

    def members(self, root: str) -> list[Advisory]:
        """Every advisory about vulnerability ``root`` (a new list)."""
        out: list[Advisory] = []
        for vid in self._ids.get(root, (root,)):
            adv = self._first.get(vid)
            if adv is not None:
                out.append(adv)
                out.extend(self._more.get(vid, ()))
        return out

    def names(self, root: str) -> tuple[str, tuple[str, ...]]:
        """(primary id, sorted other ids) of vulnerability ``root``."""
        cached = self._names.get(root)
        if cached is not None:
            return cached
        ids = self._ids.get(root, {root})
        cves = sorted((i for i in ids if is_cve(i)), key=cve_key)
        if cves:
            primary = cves[0]
        else:
            members = self.members(root) or []
            best = max((self._precedence.get(a.source, 0) for a in members), default=0)
            own = [a.id for a in members if self._precedence.get(a.source, 0) == best]
            primary = min(own) if own else root
        named = (primary, tuple(sorted(ids - {primary})))
        self._names[root] = named
        return named
