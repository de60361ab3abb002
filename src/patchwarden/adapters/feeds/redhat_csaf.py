"""Red Hat security data: CSAF VEX documents, one per CVE (``feed redhat-csaf``).

Where and what (verified while writing this, 2026-12):

- Red Hat publishes one CSAF 2.0 VEX document per CVE at
  ``https://security.access.redhat.com/data/csaf/v2/vex/<year>/cve-<year>-<n>.json``, plus
  ``archive_latest.txt`` (one line: the name of the newest archive of all of them,
  ``csaf_vex_YYYY-MM-DD.tar.zst``, in the same directory), ``changes.csv`` and
  ``deletions.csv`` (``2025/cve-2025-7195.json,2025-12-12T10:07:18+00:00``) and ``index.txt``.
  Seen in aquasecurity/vuln-list-update ``redhat/csaf/vex.go`` @ 031d2683 (base URL,
  ``archive_latest.txt`` resolved against it, archive names ``csaf_vex_2025-12-06.tar.zst``,
  read as zstd + tar, members ``<year>/cve-….json``, the CSV formats), in other public VEX
  clients found by code search (a Python client reading a ``…/csaf/v2/vex-feed/
  archive_latest.txt`` the same way and accepting ``.tar``/``.tar.zst``/``.tar.gz``/
  ``.tar.xz``/``.tar.bz2``; a Go one validating the name before use) and in Red Hat's own
  guides, RedHatProductSecurity/security-data-guidelines ``docs/csaf-vex.md`` @ 64009696 and
  ``docs/vex-alpha-details.md`` (the newer product ids).
- The document shape (that guide, and the real documents under ``tests/data/feeds/redhat-csaf``,
  whose product trees show the CPEs below):
  ``product_tree.branches`` hold products (``product_name`` with a CPE in
  ``product_identification_helper.cpe``) and components (``product_version`` with a purl,
  ``pkg:rpm/redhat/kernel@5.14.0-284.30.1.el9_2?arch=x86_64``, ``&epoch=1`` when the epoch
  is not 0; unfixed components carry no version: ``pkg:rpm/redhat/sqlite?arch=src``);
  ``relationships`` of category ``default_component_of`` join a component and a product
  into a full product id (``BaseOS-9.2.0.Z.MAIN.EUS:kernel-0:5.14.0-284.30.1.el9_2.x86_64``,
  ``red_hat_enterprise_linux_9:sqlite``; modular rpms are components of a module which is a
  component of the product); ``vulnerabilities[].product_status`` lists full product ids as
  ``fixed`` / ``known_affected`` / ``known_not_affected`` / ``under_investigation``;
  ``remediations`` of category ``vendor_fix`` name the erratum in ``url``
  (``https://access.redhat.com/errata/RHSA-2023:5069``), ``no_fix_planned`` ("Will not fix",
  "Out of support scope") and ``none_available`` ("Affected", "Fix deferred") qualify
  ``known_affected``; ``threats`` of category ``impact`` give Red Hat's severity (per product
  ids, or for all when they list none) and ``scores[].cvss_v3`` the CVSS vector and score
  (per ``products``).
- Streams: main-stream products carry ``cpe:/o:redhat:enterprise_linux:9::baseos``,
  ``cpe:/a:redhat:enterprise_linux:9::appstream`` (``::crb``, ``::realtime``…), the whole
  major ``cpe:/o:redhat:enterprise_linux:9`` — including the ``.Z.MAIN.EUS`` z-streams of a
  minor release while it was the main one; the extended streams have their own CPE
  products: ``rhel_eus``, ``rhel_aus``, ``rhel_e4s``, ``rhel_tus``, ``rhel_els``
  (``BaseOS-9.0.0.Z.EUS`` → ``cpe:/o:redhat:rhel_eus:9.0::baseos``).  Red Hat's guide for
  scanner vendors (security-data-guidelines ``docs/scanning-vendors.md`` @ 03c838d8, "CPEs in
  CSAF-VEX") says so too: unfixed products carry the major only, fixed ones the major for
  main streams and major.minor for xUS streams up to RHEL 9, major.minor for both from
  RHEL 10, and CPEs are to be matched on their first five segments.  Red Hat's newer
  ("alpha") VEX files keep these CPEs with other product ids (``rhel-9.7.z::appstream``).
- Why not OVAL v2 (``/data/oval/v2/RHEL9/rhel-9.oval.xml.bz2``; vuln-list-update's
  ``redhat/oval`` reads files like ``RHEL7/dotnet-3.1-including-unpatched.oval.xml.bz2``):
  bzip2'd XML per stream, criteria trees Patchwarden would parse for this feed only; CSAF
  VEX says per CVE and product stream what is fixed (with the RHSA), affected (deferred or
  will not be fixed), not affected or under investigation, and Red Hat's guide for scanner
  vendors explains its product/component matching.

What this parser makes of it — one :class:`Advisory` per (CVE, ``Red Hat:<major>``, rpm
name, status, fixed version), id = the CVE, aliases = the RHSA ids of the CVE's main-stream
RHEL fixes (the same on each of its advisories: the database keeps aliases per
vulnerability):

- only products whose CPE is ``cpe:/[ao]:redhat:enterprise_linux:<N>[.<minor>]…`` count, as
  ecosystem ``Red Hat:<N>`` (the ecosystem of an os-release ``ID=rhel``); EUS/AUS/E4S/TUS/ELS
  streams are left out (conservative: a main-stream node is judged by main-stream fixes
  only; a node on an extended stream, whose os-release also says ``Red Hat:<N>``, may be told
  of a fix that its stream has not shipped yet, never told it is fixed when it is not);
  other Red Hat products (OpenShift, containers…) and non-rpm components are skipped;
- ``fixed`` → FIXED at the rpm version of the component (``[epoch:]version-release``, the
  arch dropped, a 0 epoch dropped as rpm's own tools do, any other epoch kept); every binary
  and source rpm name is an advisory (debuginfo/debugsource packages left out);
- ``known_affected`` → AFFECTED, or WONT_FIX when a ``no_fix_planned`` remediation names it;
  ``under_investigation`` → UNDETERMINED; ``known_not_affected`` → NOT_AFFECTED;
- a major-level "affected" about a package for which the same document records a main-stream
  fix of that major is dropped: Red Hat states "unfixed" per major and "fixed" per stream,
  and the fix bounds it (read on its own, "affected" would match every version, including
  builds past the fix); "not affected" is dropped when the package is fixed or affected;
- severity: the ``impact`` threat of the product ids behind the advisory (else the one for
  all products, else ``document.aggregate_severity``); CVSS: ``cvss_v3`` (else ``cvss_v2``)
  of those product ids, else the document's first score.

Input: one VEX JSON document, a tar archive of them (``.tar.zst`` as Red Hat publishes it;
``.tar``, ``.tar.gz``, ``.tar.xz``, ``.tar.bz2`` too) read member by member without extracting
to disk, or a directory of documents.  A document that is not CSAF VEX inside an archive or a
directory is skipped and counted (one warning); a file that is no CSAF VEX at all, or a
corrupt/truncated archive, is an error.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urljoin, urlsplit

import zstandard

from patchwarden.adapters.feeds.common import Tally, Warn, feed_error, short, timestamp
from patchwarden.core.vuln import Advisory, AdvisoryStatus
from patchwarden.errors import AdapterError

SOURCE = "redhat-csaf"
VEX_BASE = "https://security.access.redhat.com/data/csaf/v2/vex"
ARCHIVE_LATEST = f"{VEX_BASE}/archive_latest.txt"
"""Names the newest archive of every VEX document (``csaf_vex_YYYY-MM-DD.tar.zst``)."""
MAX_DOCUMENT = 256 << 20
"""Larger documents are skipped (Red Hat's largest, kernel CVEs, are under 100 MB)."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAGIC = {ZSTD_MAGIC: "zstd", b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2"}
_CHUNK = 1 << 16
_RHEL_CPE = re.compile(r"^cpe:/[ao]:redhat:enterprise_linux:(\d+)(?:\.\d+)*(?::|$)")
_ERRATUM = re.compile(r"\bRH[SBE]A-\d{4}:\d+\b")
_NEVRA = re.compile(r"^(?P<name>.+)-(?P<epoch>\d+):(?P<version>[^-:]+)-(?P<release>[^-:]+)\.[^.]+$")
_ARCHIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.tar(?:\.(?:zst|gz|xz|bz2))?")
_VEX_MARK = re.compile(rb'"category"\s*:\s*"csaf_vex"')
_DEBUG_SUFFIXES = ("-debuginfo", "-debugsource")
_AFFECTED_LISTS = ("known_affected", "first_affected", "last_affected")
_FIXED_LISTS = ("fixed", "first_fixed")
_CORRUPT = (
    tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError,
    ValueError,
)  # fmt: skip


class NotVex(ValueError):
    """A JSON value that is not a usable CSAF VEX document."""


# -- download: archive_latest.txt -> the archive --------------------------------------------------


def locate(url: str, fetch: Callable[[str], bytes]) -> str:
    """The URL to download for ``url``: the archive ``archive_latest.txt`` names (resolved
    against it), or ``url`` itself when it is not an ``archive_latest.txt`` (a direct archive
    or document URL from ``--url redhat-csaf=…``)."""
    if not unquote(urlsplit(url).path).endswith("archive_latest.txt"):
        return url
    lines = fetch(url).decode("utf-8", "replace").strip().splitlines()
    name = lines[0].strip() if lines else ""
    if _ARCHIVE_NAME.fullmatch(name) is None:
        shown = name[:60] or "nothing"
        raise AdapterError(f"{url}: expected the name of a .tar.zst archive, got {shown!r}")
    return urljoin(url, name)


# -- input: a document, an archive or a directory -------------------------------------------------


def parse(path: Path, warn: Warn, feed: str = SOURCE) -> Iterator[Advisory]:
    """Stream the advisories of a VEX document, a tar(.zst) archive or a directory of them."""
    tally = Tally()
    if path.is_dir():
        yield from _directory(path, tally, feed)
    else:
        kind = _kind(path, feed)
        if kind == "json":
            yield from _single(path, tally, feed)
        else:
            yield from _archive(path, kind, tally, feed)
    tally.report(warn, f"{feed}: {path.name}")


def _kind(path: Path, feed: str) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise feed_error(feed, path, f"cannot read ({exc.strerror or exc})") from None
    return _compression(head) or ("tar" if head[257:262] == b"ustar" else "json")


def _compression(head: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def _decompressed(raw: IO[bytes], kind: str) -> IO[bytes]:
    """``raw`` decompressed while read (``kind`` from :func:`_kind`); every decompressor
    here raises EOFError for a stream cut off before its end marker (tarfile's own do not)."""
    if kind == "zstd":
        return io.BufferedReader(ZstdReader(raw), _CHUNK)
    if kind == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if kind == "xz":
        return lzma.LZMAFile(raw)
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    return raw


def _single(path: Path, tally: Tally, feed: str) -> Iterator[Advisory]:
    try:
        record = json.loads(path.read_bytes())
    except (ValueError, OSError) as exc:
        raise feed_error(feed, path, f"not a CSAF VEX JSON document ({_one_line(exc)})") from None
    try:
        found = list(advisories(record, tally))
    except NotVex as exc:
        raise feed_error(feed, path, f"not a CSAF VEX document: {exc}") from None
    yield from found


def _directory(path: Path, tally: Tally, feed: str) -> Iterator[Advisory]:
    files = sorted(p for p in path.rglob("*.json") if p.is_file())
    documents = 0
    for file in files:
        try:
            found = _document(file.read_bytes(), tally)
        except (NotVex, OSError) as exc:
            tally.add("malformed documents skipped", f"{file.name} ({_one_line(exc)})")
            continue
        documents += 1
        yield from found
    if not documents:
        raise feed_error(feed, path, "no CSAF VEX document in the directory")


def _archive(path: Path, kind: str, tally: Tally, feed: str) -> Iterator[Advisory]:
    documents = 0
    try:
        with path.open("rb") as raw, _decompressed(raw, kind) as stream:
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    if not member.isfile() or not member.name.endswith(".json"):
                        continue
                    where = member.name
                    if member.size > MAX_DOCUMENT:
                        tally.add(f"documents larger than {MAX_DOCUMENT >> 20} MiB skipped", where)
                        continue
                    handle = archive.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    if len(data) != member.size:
                        raise EOFError(f"member {where} is cut off")
                    try:
                        found = _document(data, tally)
                    except NotVex as exc:
                        tally.add("malformed documents skipped", f"{where} ({exc})")
                        continue
                    documents += 1
                    yield from found
            while stream.read(_CHUNK):  # to the end marker: a truncated stream raises
                pass
    except _CORRUPT as exc:
        raise feed_error(feed, path, f"corrupt or truncated archive ({_one_line(exc)})") from None
    if not documents:
        raise feed_error(feed, path, "no CSAF VEX document in the archive")


def _document(data: bytes, tally: Tally) -> list[Advisory]:
    """The advisories of one document; :class:`NotVex` when it is not one."""
    try:
        record = json.loads(data)
    except ValueError as exc:
        raise NotVex(f"not valid JSON: {_one_line(exc)}") from None
    return list(advisories(record, tally))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class ZstdReader(io.RawIOBase):
    """Decompresses a zstd stream (one or more frames) while it is read; a stream that ends
    inside a frame raises EOFError (``zstandard``'s own stream reader just stops)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = self._raw.read(_CHUNK)
            if not chunk:
                if self._in_frame:
                    raise EOFError("the zstd stream ends inside a frame (truncated download)")
                return 0
            self._pending = self._feed(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _feed(self, data: bytes) -> bytes:
        out = bytearray()
        while data:
            if self._frame.eof:
                self._frame = zstandard.ZstdDecompressor().decompressobj()
            out += self._frame.decompress(data)
            self._in_frame = not self._frame.eof
            data = self._frame.unused_data if self._frame.eof else b""
        return bytes(out)


# -- one document ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """An rpm in a RHEL major release, as a full product id of the document names it."""

    major: str
    name: str
    version: str | None


@dataclass
class _Said:
    """What one vulnerability says about one (major, rpm name)."""

    fixed: dict[str, list[str]] = field(default_factory=dict)
    """Fixed version → the full product ids that say so."""
    unfixed: dict[AdvisoryStatus, list[str]] = field(default_factory=dict)
    clear: list[str] = field(default_factory=list)


def advisories(record: object, tally: Tally) -> Iterator[Advisory]:
    """The advisories of one CSAF VEX document (:class:`NotVex` when it is not one)."""
    document, tree, vulnerabilities = _shape(record)
    components = _components(tree)
    if not components:
        return
    aggregate = _text(_dict(document.get("aggregate_severity")).get("text"))
    tracking = _dict(document.get("tracking"))
    modified = timestamp(tracking.get("current_release_date"))
    released = timestamp(tracking.get("initial_release_date"))
    for vuln in vulnerabilities:
        if not isinstance(vuln, dict):
            raise NotVex("a vulnerability is not an object")
        cve = vuln.get("cve") or tracking.get("id")
        if not isinstance(cve, str) or not cve:
            raise NotVex("a vulnerability without a 'cve'")
        yield from _vulnerability(cve, vuln, components, aggregate, released, modified, tally)


def _shape(record: object) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    if not isinstance(record, dict) or not isinstance(record.get("document"), dict):
        raise NotVex("not an object with a 'document'")
    document: dict[str, Any] = record["document"]
    if document.get("category") != "csaf_vex":
        raise NotVex(f"document category {document.get('category')!r}, expected 'csaf_vex'")
    tree = record.get("product_tree")
    vulnerabilities = record.get("vulnerabilities")
    if not isinstance(tree, dict) or not isinstance(vulnerabilities, list):
        raise NotVex("no 'product_tree' object or 'vulnerabilities' list")
    return document, tree, vulnerabilities


def _components(tree: Mapping[str, Any]) -> dict[str, Component]:
    """Full product id → the rpm it names in a main-stream RHEL release (others left out)."""
    helpers: dict[str, Mapping[str, Any]] = {}
    _collect(tree.get("branches"), helpers)
    for product in _list(tree.get("full_product_names")):
        if isinstance(product, dict) and isinstance(product.get("product_id"), str):
            helpers[product["product_id"]] = _dict(product.get("product_identification_helper"))
    links: dict[str, tuple[str, str]] = {}
    for rel in _list(tree.get("relationships")):
        if not isinstance(rel, dict) or rel.get("category") != "default_component_of":
            continue
        full = _dict(rel.get("full_product_name")).get("product_id")
        part, whole = rel.get("product_reference"), rel.get("relates_to_product_reference")
        if isinstance(full, str) and isinstance(part, str) and isinstance(whole, str):
            links[full] = (part, whole)
    found: dict[str, Component] = {}
    for full, (part, whole) in links.items():
        major = _major(whole, helpers, links)
        if major is None:
            continue
        rpm = _rpm(part, helpers.get(part, {}))
        if rpm is not None and not rpm[0].endswith(_DEBUG_SUFFIXES):
            found[full] = Component(major, *rpm)
    return found


def _collect(branches: object, helpers: dict[str, Mapping[str, Any]]) -> None:
    for branch in _list(branches):
        if not isinstance(branch, dict):
            continue
        product = branch.get("product")
        if isinstance(product, dict) and isinstance(product.get("product_id"), str):
            helpers[product["product_id"]] = _dict(product.get("product_identification_helper"))
        _collect(branch.get("branches"), helpers)


def _major(
    whole: str, helpers: Mapping[str, Mapping[str, Any]], links: Mapping[str, tuple[str, str]]
) -> str | None:
    """The RHEL major of a main-stream product (through module relationships), else None."""
    for _ in range(8):
        cpe = helpers.get(whole, {}).get("cpe")
        if isinstance(cpe, str):
            match = _RHEL_CPE.match(cpe)
            return match.group(1) if match else None
        if whole not in links:
            return None
        whole = links[whole][1]
    return None


def _rpm(reference: str, helper: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(name, ``[epoch:]version-release`` or None) of an rpm component, None for others."""
    purl = helper.get("purl")
    if isinstance(purl, str):
        if not purl.startswith("pkg:rpm/"):
            return None
        return _from_purl(purl)
    nevra = _NEVRA.match(reference)
    if nevra is None:
        return None
    return nevra["name"], _evr(nevra["epoch"], nevra["version"], nevra["release"])


def _from_purl(purl: str) -> tuple[str, str | None] | None:
    rest, _, qualifiers = purl.partition("?")
    rest = rest.partition("#")[0]
    path, _, version = rest.partition("@")
    name = unquote(path.rsplit("/", 1)[-1])
    if not name:
        return None
    if not version:
        return name, None
    epoch = "0"
    for pair in qualifiers.split("&"):
        key, _, value = pair.partition("=")
        if key == "epoch" and value.isdigit():
            epoch = value
    version = unquote(version)
    if ":" in version:  # an epoch written into the version
        epoch, _, version = version.partition(":")
    ver, _, release = version.rpartition("-")
    return name, _evr(epoch, ver, release) if ver else version


def _evr(epoch: str, version: str, release: str) -> str:
    number = int(epoch) if epoch.isdigit() else 0
    return f"{number}:{version}-{release}" if number else f"{version}-{release}"


def _vulnerability(
    cve: str,
    vuln: Mapping[str, Any],
    components: Mapping[str, Component],
    aggregate: str,
    released: datetime | None,
    modified: datetime | None,
    tally: Tally,
) -> Iterator[Advisory]:
    status = _dict(vuln.get("product_status"))
    errata, wont_fix = _remediations(vuln)
    said: dict[tuple[str, str], _Said] = {}
    for lists, decided in (
        (_FIXED_LISTS, None),
        (_AFFECTED_LISTS, AdvisoryStatus.AFFECTED),
        (("under_investigation",), AdvisoryStatus.UNDETERMINED),
        (("known_not_affected",), AdvisoryStatus.NOT_AFFECTED),
    ):
        for full in (i for name in lists for i in _list(status.get(name))):
            comp = components.get(full) if isinstance(full, str) else None
            if comp is None:
                continue
            entry = said.setdefault((comp.major, comp.name), _Said())
            if decided is None:
                if comp.version is None:
                    tally.add("fixed components without a version skipped", f"{cve} {full}")
                    continue
                entry.fixed.setdefault(comp.version, []).append(full)
            elif decided is AdvisoryStatus.NOT_AFFECTED:
                entry.clear.append(full)
            else:
                wont = decided is AdvisoryStatus.AFFECTED and full in wont_fix
                entry.unfixed.setdefault(AdvisoryStatus.WONT_FIX if wont else decided, []).append(
                    full
                )
    if not said:
        return
    severity = _Ratings(_severities(vuln), aggregate)
    scores = _Scores(_list(vuln.get("scores")))
    title = vuln.get("title")
    summary = short(title if isinstance(title, str) and title else _note(vuln, "summary"))
    published = timestamp(vuln.get("release_date")) or released
    # the database keeps aliases per vulnerability, not per package: all of its main-stream
    # errata (the RHSAs of the RHEL fixes this parser keeps), on every advisory alike
    aliases = tuple(
        sorted(
            {
                erratum
                for entry in said.values()
                for ids in entry.fixed.values()
                for i in ids
                for erratum in errata.get(i, ())
            }
        )
    )

    def advisory(
        major: str, name: str, state: AdvisoryStatus, fixed: str | None, ids: list[str]
    ) -> Advisory:
        vector, score = scores.of(ids)
        return Advisory(
            id=cve,
            source=SOURCE,
            ecosystem=f"Red Hat:{major}",
            package=name,
            status=state,
            fixed_version=fixed,
            aliases=aliases,
            cvss_vector=vector,
            cvss_score=score,
            vendor_severity=severity.of(ids),
            summary=summary,
            published=published,
            modified=modified,
        )

    for (major, name), entry in said.items():
        for version, ids in entry.fixed.items():
            yield advisory(major, name, AdvisoryStatus.FIXED, version, ids)
        if entry.fixed:
            continue
        for state, ids in entry.unfixed.items():
            yield advisory(major, name, state, None, ids)
        if not entry.unfixed and entry.clear:
            yield advisory(major, name, AdvisoryStatus.NOT_AFFECTED, None, entry.clear)


def _remediations(vuln: Mapping[str, Any]) -> tuple[dict[str, list[str]], set[str]]:
    """(full product id → RHSA/RHBA ids of its fixes, full product ids Red Hat will not fix)."""
    errata: dict[str, list[str]] = {}
    wont_fix: set[str] = set()
    for item in _list(vuln.get("remediations")):
        if not isinstance(item, dict):
            continue
        ids = [i for i in _list(item.get("product_ids")) if isinstance(i, str)]
        if item.get("category") == "vendor_fix":
            names = _ERRATUM.findall(f"{item.get('url') or ''} {item.get('details') or ''}")
            for i in ids:
                known = errata.setdefault(i, [])
                known.extend(n for n in names if n not in known)
        elif item.get("category") == "no_fix_planned":
            wont_fix.update(ids)
    return errata, wont_fix


def _severities(vuln: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for threat in _list(vuln.get("threats")):
        if isinstance(threat, dict) and threat.get("category") == "impact":
            text = _text(threat.get("details"))
            if text:
                ids = [i for i in _list(threat.get("product_ids")) if isinstance(i, str)]
                found.append((text, ids))
    return found


class _Ratings:
    """Red Hat's impact per full product id, with the one for all products as fallback."""

    def __init__(self, threats: list[tuple[str, list[str]]], aggregate: str) -> None:
        self.by_id: dict[str, str] = {}
        for text, ids in threats:
            for i in ids:
                self.by_id.setdefault(i, text)
        general = [text for text, ids in threats if not ids]
        self.default = general[0] if general else aggregate

    def of(self, ids: Iterable[str]) -> str:
        return next((self.by_id[i] for i in ids if i in self.by_id), self.default)


class _Scores:
    """CVSS (vector, base score) per full product id; the first score as fallback."""

    def __init__(self, scores: list[Any]) -> None:
        self.by_id: dict[str, tuple[str, float | None]] = {}
        self.default: tuple[str, float | None] = ("", None)
        for item in scores:
            if not isinstance(item, dict):
                continue
            cvss = item.get("cvss_v3") if isinstance(item.get("cvss_v3"), dict) else None
            cvss = cvss or (item.get("cvss_v2") if isinstance(item.get("cvss_v2"), dict) else None)
            if cvss is None or not isinstance(cvss.get("vectorString"), str):
                continue
            base = cvss.get("baseScore")
            value = (cvss["vectorString"], float(base) if isinstance(base, int | float) else None)
            if self.default == ("", None):
                self.default = value
            for i in _list(item.get("products")):
                if isinstance(i, str):
                    self.by_id.setdefault(i, value)

    def of(self, ids: Iterable[str]) -> tuple[str, float | None]:
        return next((self.by_id[i] for i in ids if i in self.by_id), self.default)


def _note(vuln: Mapping[str, Any], category: str) -> str:
    for note in _list(vuln.get("notes")):
        if isinstance(note, dict) and note.get("category") == category:
            return _text(note.get("text"))
    return ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# -- recognising the feed (db import) --------------------------------------------------------------


def is_vex(path: Path) -> bool:
    """Whether ``path`` is a CSAF VEX JSON document or a tar(.zst) archive of them (by
    content: the first ``.json`` member of an archive decides)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64 << 10)
            if head.lstrip().startswith(b"{"):
                return _VEX_MARK.search(head) is not None and b'"document"' in head
            kind = _compression(head)
            if kind is None and head[257:262] != b"ustar":
                return False
            handle.seek(0)
            stream = _decompressed(handle, kind or "tar")
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for n, member in enumerate(archive):
                    if n > 1000:
                        return False
                    if member.isfile() and member.name.endswith(".json"):
                        data = archive.extractfile(member)
                        first = data.read(64 << 10) if data is not None else b""
                        return _VEX_MARK.search(first) is not None
    except _CORRUPT:
        return False
    return False
