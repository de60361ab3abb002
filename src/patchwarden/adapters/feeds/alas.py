"""Amazon Linux security advisories (ALAS) from the repositories' ``updateinfo.xml``.

**Source.**  Amazon publishes its advisories machine-readably in the ``updateinfo`` data
file of each Amazon Linux repository, the file dnf itself reads for ``dnf updateinfo``.
alas.aws.amazon.com is for humans: an RSS item has the id, the severity, the source
package's name and the CVEs but no fixed version, and the HTML pages would have to be
scraped.  Reaching the file takes three hops, all made by the project's downloader
(:func:`locate`, called by :func:`patchwarden.pipeline.dbupdate.update` through the
``Feed.locate`` port method):

1. ``mirror.list`` (the configured URL) names the current repository snapshot, one base URL
   a line.  AL2023: ``https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/
   mirror.list`` → ``https://cdn.amazonlinux.com/al2023/core/guids/<sha256>/x86_64/``; AL2:
   ``https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list`` →
   ``https://cdn.amazonlinux.com/2/core/2.0/x86_64/<sha256>`` (*no* trailing slash);
2. ``<base>/repodata/repomd.xml`` lists the metadata files; ``<data type="updateinfo">``'s
   ``<location href="repodata/…updateinfo.xml.gz"/>`` is relative to the base;
3. that file (a few MB gzip-compressed) is the one downloaded conditionally, parsed and
   recorded as the feed's source (its URL changes whenever Amazon publishes a new
   snapshot: the snapshots are immutable, the mirror.list moves).

Checked against public code and data when this module was written: both mirror.list URLs
and the walk mirror.list (each line a mirror) → ``<mirror>/repodata/repomd.xml`` →
``<mirror>/<href of data type="updateinfo">`` are what aquasecurity/vuln-list-update's
``amazon/amazon.go`` does (its repomd fixture's updateinfo href is
``repodata/updateinfo.xml.gz``); the one-line mirror.list bodies (AL2's base without a
trailing slash, AL2023's ``…/al2023/core/guids/<sha256>/x86_64/`` with one) are what
quay/claircore's ``aws/client_test.go`` expects; that a snapshot behind a mirror.list is
never modified (updates move the mirror.list) is documented by amazonlinux-reproducible
users; anchore/vunnel's amazon provider reads the RSS + HTML instead.  Ids as found in
updateinfo: ``ALAS2-2018-939`` (AL2), ``ALAS2023-2023-001`` (AL2023; the HTML pages show
the AL2023 ones as ``ALAS-2023-126``), extras topics ``ALAS2GOLANG1.19-2023-001``;
severities ``low``/``medium``/``important``/``critical``, capitalised in some notices
(``Important``).  Not verified: the exact href naming of today's AL2023 repomd (a
checksum-prefixed ``…-updateinfo.xml.gz`` is handled the same way: the href is used as
given), and the time zone of the notice dates (read as UTC, as the dnf adapter does).

**Advisories.**  The file is read with the dnf adapter's updateinfo parser
(:func:`~patchwarden.adapters.os.dnf.updateinfo.iter_notices`).  One FIXED advisory per
(notice, release, package name): id = Amazon's notice id, aliases = its CVE references,
fixed version = the pkglist's ``[epoch:]version-release`` (the highest when a notice lists
several for one name), vendor severity = Amazon's (lower-cased), published/modified =
issued/updated.  Binary and source rpm names both appear (rpm matching looks up both).
Notices that are not ``type="security"`` are skipped unless they name CVEs.

**Release (ecosystem).**  Taken from each package's release tag: ``….amzn2023…`` →
``Amazon Linux:2023``, ``….amzn2…`` → ``Amazon Linux:2`` (what os-release ``ID=amzn``
``VERSION_ID=2023`` / ``2`` map to), so a file needs no hint from its URL and ``db import``
of a bare file works; a package without the tag falls back to the notice id's prefix
(``ALAS2023-`` → 2023, ``ALAS2…-`` → 2); anything else is dropped with a warning.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from patchwarden.adapters.feeds.common import Tally, Warn, feed_error
from patchwarden.adapters.os.dnf.repomd import parse_repomd
from patchwarden.adapters.os.dnf.updateinfo import Nevra, Notice, iter_notices
from patchwarden.core.versions import rpm
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError, EnvironmentProblem

SOURCE = "alas"
FEED = "alas"
AMAZON_CDN = "https://cdn.amazonlinux.com"
MIRROR_LISTS = (
    f"{AMAZON_CDN}/al2023/core/mirrors/latest/x86_64/mirror.list",
    f"{AMAZON_CDN}/2/core/latest/x86_64/mirror.list",
)
"""The core repositories of Amazon Linux 2023 and 2 (x86_64: the advisories name every
architecture's packages, so one architecture's file is enough)."""
ECOSYSTEM = "Amazon Linux"

_RELEASE_TAG = re.compile(r"(?:^|\.)amzn(\d+)(?:\.|$|_)")
_ID_RELEASE = re.compile(r"^ALAS(\d{4})-")
_MIRROR_NAMES = frozenset({"mirror.list", "mirrorlist"})
_ZSTD = b"\x28\xb5\x2f\xfd"

Fetch = Callable[[str], bytes]


def locate(url: str, fetch: Fetch) -> str:
    """The URL of the updateinfo file behind ``url``: a ``mirror.list``, a repository base
    (ending in ``/``), a ``repomd.xml``, or the updateinfo file itself (returned as is).

    ``fetch`` downloads one small index file.  AdapterError (one line, naming the URL) when
    an index file is not what it should be."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if name in _MIRROR_NAMES:
        url = urljoin(_base_of(url, fetch(url)), "repodata/repomd.xml")
    elif url.endswith("/"):
        url = urljoin(url, "repodata/repomd.xml")
    elif name != "repomd.xml":
        return url
    try:
        entries = parse_repomd(fetch(url), url)
    except EnvironmentProblem as exc:
        raise AdapterError(f"{url}: {_problem(exc, url)}") from None
    entry = entries.get("updateinfo")
    if entry is None:
        raise AdapterError(f"{url}: the repository publishes no updateinfo (no security data)")
    repo_root = urljoin(url, "..")  # <base>/repodata/repomd.xml → <base>/
    return urljoin(repo_root, entry.href)


def _base_of(url: str, body: bytes) -> str:
    """The first mirror of a mirror.list (an absolute http(s) URL), as a directory URL
    (``$basearch`` filled in from the mirror.list's own path, as dnf would)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AdapterError(f"{url}: not a mirror list (not text)") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise AdapterError(f"{url}: empty mirror list")
    base = lines[0]
    if "$basearch" in base:
        parts = urlsplit(url).path.rstrip("/").split("/")
        base = base.replace("$basearch", parts[-2] if len(parts) >= 2 else "x86_64")
    if urlsplit(base).scheme not in ("http", "https") or any(c.isspace() for c in base):
        raise AdapterError(f"{url}: not a mirror list (first line {lines[0]!r:.80})")
    return base if base.endswith("/") else base + "/"


def parse(path: Path, warn: Warn, feed: str = FEED) -> Iterator[Advisory]:
    """The advisories of one updateinfo file (``.xml``, ``.xml.gz``, ``.xz`` or ``.bz2``)."""
    tally = Tally()
    notices = 0
    with _open(path, feed) as stream:
        try:
            for notice in iter_notices(stream, path.name):
                notices += 1
                yield from _advisories(notice, tally)
        except EnvironmentProblem as exc:
            raise feed_error(feed, path, _problem(exc, path.name)) from None
        except (zlib.error, lzma.LZMAError) as exc:
            raise feed_error(feed, path, f"corrupt compressed data ({exc})") from None
    if notices == 0:
        warn(f"{feed}: {path.name}: no update notices (an empty repository?)")
    tally.report(warn, f"{feed}: {path.name}")


def _open(path: Path, feed: str) -> io.BufferedIOBase:
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
        if head.startswith(_ZSTD):
            raise feed_error(feed, path, "zstd-compressed: not supported (decompress it first)")
        if head.startswith(b"\x1f\x8b"):
            return gzip.open(path, "rb")
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.open(path, "rb")
        if head.startswith(b"BZh"):
            return bz2.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read ({exc.strerror or exc})") from None


def _problem(exc: EnvironmentProblem, source: str) -> str:
    """The parser's message without its file name and its ``scan --refresh`` hint."""
    cause = exc.__cause__
    if cause is not None:
        detail = str(cause) or type(cause).__name__
        return f"corrupt or truncated XML ({detail})"
    return str(exc).removeprefix(f"{source}: ")


def release_of(release: str, notice_id: str) -> str | None:
    """``1.amzn2023.0.1`` → ``Amazon Linux:2023``; else from ``ALAS2023-…``/``ALAS2…-``."""
    match = _RELEASE_TAG.search(release)
    if match:
        tag = match.group(1)
        return f"{ECOSYSTEM}:{tag}" if tag == "2" or len(tag) == 4 else None
    by_id = _ID_RELEASE.match(notice_id)
    if by_id:
        return f"{ECOSYSTEM}:{by_id.group(1)}"
    if notice_id.startswith("ALAS2"):
        return f"{ECOSYSTEM}:2"
    return None


def _advisories(notice: Notice, tally: Tally) -> Iterator[Advisory]:
    if notice.type != "security" and not notice.cve_ids:
        return
    if not notice.id:
        tally.add("notices without an id dropped", notice.type)
        return
    if not notice.packages:
        tally.add("notices without packages skipped", notice.id)
        return
    fixes: dict[tuple[str, str], str] = {}
    for nevra in notice.packages:
        evr = _evr(nevra)
        if evr is None:
            tally.add("malformed package entries dropped", f"{notice.id} {nevra[0] or '?'}")
            continue
        ecosystem = release_of(nevra[3], notice.id)
        if ecosystem is None:
            tally.add("packages of an unknown Amazon Linux release dropped", f"{nevra[0]}-{evr}")
            continue
        key = (ecosystem, nevra[0])
        known = fixes.get(key)
        if known is None or rpm.compare(evr, known) > 0:
            fixes[key] = evr
    for (ecosystem, name), fixed in fixes.items():
        yield Advisory(
            id=notice.id,
            source=SOURCE,
            ecosystem=ecosystem,
            package=name,
            status=AdvisoryStatus.FIXED,
            fixed_version=fixed,
            aliases=notice.cve_ids,
            vendor_severity=notice.severity.lower(),
            published=notice.issued,
            modified=notice.updated,
        )


def _evr(nevra: Nevra) -> str | None:
    name, epoch, version, release, _arch = nevra
    if not name or not version or not release or any(c.isspace() for c in version + release):
        return None
    return f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"
