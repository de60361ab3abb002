"""Vulnerability feeds: an explicit registry of what ``patchwarden db update`` downloads.

Each :class:`FeedSpec` names its files (real default URLs) and the parser that streams
them into :class:`~patchwarden.core.vuln.Advisory` values; it satisfies the
:class:`~patchwarden.ports.Feed` port.  :func:`classify` tells which feed a raw file
(for ``db import``) belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from patchwarden.adapters.feeds import (
    alas,
    alpine_secdb,
    debian_tracker,
    epss,
    kev,
    nvd,
    osv,
    redhat_csaf,
)
from patchwarden.adapters.feeds.common import Warn
from patchwarden.adapters.feeds.sniff import classify
from patchwarden.core.vuln import Advisory
from patchwarden.errors import InputError

Parser = Callable[[Path, Warn, str], Iterator[Advisory]]
Locator = Callable[[str, Callable[[str], bytes]], str]

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
ALPINE_SECDB = "https://secdb.alpinelinux.org"
CISA_KEV = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
FIRST_EPSS = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
NVD_FEEDS = "https://nvd.nist.gov/feeds/json/cve/2.0"
NVD_YEARS = tuple(range(2002, 2027))
"""The yearly NVD 2.0 feeds ``db update --feed nvd`` reads (and the ``modified`` one)."""
"""Where FIRST publishes the daily EPSS scores (moved from ``epss.cyentia.com`` in 2025)."""
ALPINE_BRANCHES = ("v3.19", "v3.20", "v3.21", "v3.22")
"""Alpine branches with community support when this list was written; ``--url`` adds more."""


@dataclass(frozen=True)
class FeedSpec:
    """A feed: its name, its files and its parser (the :class:`~patchwarden.ports.Feed` port)."""

    name: str
    urls: tuple[str, ...]
    parser: Parser
    description: str = ""
    default: bool = True
    """Part of a plain ``db update`` (large opt-in feeds are asked for with ``--feed``)."""
    locator: Locator | None = None
    """For feeds behind index files: configured URL → URL of the file to download."""

    def parse(self, path: Path, warn: Warn) -> Iterator[Advisory]:
        """Stream the advisories of one file of this feed."""
        return self.parser(path, warn, self.name)

    def locate(self, url: str, fetch: Callable[[str], bytes]) -> str:
        """The URL to download for ``url`` (itself unless the feed has a ``locator``)."""
        return self.locator(url, fetch) if self.locator is not None else url

    def with_urls(self, urls: tuple[str, ...]) -> FeedSpec:
        """The same feed read from other files (mirrors, an older branch)."""
        return replace(self, urls=urls)


def _osv(name: str, ecosystem: str, label: str, *, default: bool = True) -> FeedSpec:
    url = f"{OSV_BUCKET}/{ecosystem.replace(' ', '%20')}/all.zip"
    description = f"OSV dump of {label} ({ecosystem}/all.zip)"
    return FeedSpec(name, (url,), osv.parse, description, default)


FEEDS: Mapping[str, FeedSpec] = {
    "debian-tracker": FeedSpec(
        "debian-tracker",
        ("https://security-tracker.debian.org/tracker/data/json",),
        debian_tracker.parse,
        "Debian security tracker JSON (every source package, CVE and release)",
    ),
    "osv-debian": _osv("osv-debian", "Debian", "Debian (DSA, DLA, DEBIAN-CVE)"),
    "osv-ubuntu": _osv("osv-ubuntu", "Ubuntu", "Ubuntu (USN, UBUNTU-CVE)"),
    "osv-alpine": _osv("osv-alpine", "Alpine", "Alpine (ALPINE-CVE)"),
    "osv-rocky": _osv("osv-rocky", "Rocky Linux", "Rocky Linux (RLSA)"),
    "osv-alma": _osv("osv-alma", "AlmaLinux", "AlmaLinux (ALSA)"),
    "osv-suse": _osv(
        "osv-suse", "SUSE", "SUSE Linux Enterprise (SUSE-SU, SUSE-RU; opt-in)", default=False
    ),
    "osv-opensuse": _osv(
        "osv-opensuse", "openSUSE", "openSUSE (openSUSE-SU; opt-in)", default=False
    ),
    "alpine-secdb": FeedSpec(
        "alpine-secdb",
        tuple(
            f"{ALPINE_SECDB}/{b}/{r}.json" for b in ALPINE_BRANCHES for r in ("main", "community")
        ),
        alpine_secdb.parse,
        "Alpine secdb (secfixes per package, branch and repository)",
    ),
    "alas": FeedSpec(
        "alas",
        alas.MIRROR_LISTS,
        alas.parse,
        "Amazon Linux security advisories (ALAS) of AL2023 and AL2: the core repositories' "
        "updateinfo, reached through mirror.list and repomd.xml",
        locator=alas.locate,
    ),
    "cisa-kev": FeedSpec(
        "cisa-kev",
        (CISA_KEV,),
        kev.parse,
        "CISA Known Exploited Vulnerabilities catalogue (exploit intelligence, per CVE)",
    ),
    "epss": FeedSpec(
        "epss",
        (FIRST_EPSS,),
        epss.parse,
        "FIRST EPSS scores (probability of exploitation in 30 days, per CVE)",
    ),
    "nvd": FeedSpec(
        "nvd",
        (
            *(f"{NVD_FEEDS}/nvdcve-2.0-{year}.json.gz" for year in NVD_YEARS),
            f"{NVD_FEEDS}/nvdcve-2.0-modified.json.gz",
        ),
        nvd.parse,
        "NVD CVSS base scores per CVE (the severity of findings no distribution rates; "
        "about 500 MB of yearly JSON: opt-in)",
        default=False,
    ),
    "redhat-csaf": FeedSpec(
        "redhat-csaf",
        (redhat_csaf.ARCHIVE_LATEST,),
        redhat_csaf.parse,
        "Red Hat CSAF VEX documents per CVE (RHEL main streams: fixed, affected, not "
        "affected, severity), the archive archive_latest.txt names (hundreds of MB: opt-in)",
        default=False,
        locator=redhat_csaf.locate,
    ),
}
"""Every feed Patchwarden knows, by name."""


def select_feeds(
    stored: Sequence[str], names: Sequence[str], overrides: Mapping[str, Sequence[str]]
) -> list[FeedSpec]:
    """The feeds an update reads: ``names`` and the overridden ones, else those the
    database already holds (``stored``), else the default feeds; ``overrides`` replace a
    feed's URLs (a mirror).  InputError for an unknown name."""
    wanted = list(dict.fromkeys([*names, *overrides]))
    if not wanted:
        known = [n for n in stored if n in FEEDS]
        wanted = known or [n for n, spec in FEEDS.items() if spec.default]
    unknown = [n for n in wanted if n not in FEEDS]
    if unknown:
        raise InputError(f"unknown feed {unknown[0]!r} (known: {', '.join(FEEDS)})")
    return [FEEDS[n].with_urls(tuple(overrides[n])) if n in overrides else FEEDS[n] for n in wanted]


def url_overrides(items: Sequence[str], what: str = "--url") -> dict[str, list[str]]:
    """``NAME=URL`` items as feed name → URLs (InputError for a malformed one)."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not url or not name:
            raise InputError(f"{what} {item!r}: expected NAME=URL")
        out.setdefault(name.strip(), []).append(url.strip())
    return out


__all__ = ["FEEDS", "FeedSpec", "classify", "select_feeds", "url_overrides"]
