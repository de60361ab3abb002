"""What the image builder consumes, in EC2 Image Builder's vocabulary (reference §11), pure.

- :class:`Recipe` — a parent (:class:`Bootstrap` root, :class:`ExternalImage` or another
  Patchwarden image by :class:`ImageSelector`), components run in order, labels and the
  container config of the image;
- :class:`ImagePipeline` — a recipe selector, tests, the scan :class:`Gate`
  (:func:`gate_failures`), a :class:`Distribution` and a :class:`PipelineSchedule`;
- :func:`render_tag` — a distribution's container tag template for one build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from patchwarden.core.baseline import PatchBaseline
from patchwarden.core.component import Component
from patchwarden.core.semver import ImageVersion, SemanticVersion, VersionSelector
from patchwarden.core.vuln import Finding, FindingStatus, FixAvailable, Severity

BOOTSTRAP_VARIANTS = (
    "extract",
    "custom",
    "essential",
    "apt",
    "required",
    "minbase",
    "buildd",
    "important",
    "debootstrap",
    "standard",
)
"""mmdebstrap's ``--variant`` values."""

EXTERNAL_PREFIXES = ("oci:", "oci-archive:", "docker-archive:", "docker://")
"""How an :class:`ExternalImage` reference starts."""


@dataclass(frozen=True)
class Bootstrap:
    """A Debian/Ubuntu root made by mmdebstrap."""

    suite: str
    """``bookworm``, ``jammy``, ``stable``…"""
    mirrors: tuple[str, ...] = ()
    """sources.list lines or URLs as mmdebstrap takes them (``deb [trusted=yes]
    copy:///srv/repo bookworm main``, ``http://deb.debian.org/debian``); empty: mmdebstrap's
    default mirror."""
    variant: str = "minbase"
    """One of :data:`BOOTSTRAP_VARIANTS`."""
    include: tuple[str, ...] = ()
    """Extra packages."""
    architecture: str = ""
    """``""``: the host's (``dpkg --print-architecture``), else e.g. ``amd64``."""


@dataclass(frozen=True)
class ExternalImage:
    """An image read from outside: ``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``,
    ``docker-archive:FILE`` or ``docker://HOST/REPO:TAG``."""

    reference: str
    tls_verify: bool = True
    """Check the registry's TLS certificate (``False``: also plain HTTP)."""
    description: str = ""
    """How the build log names the parent (default: the reference)."""


@dataclass(frozen=True)
class ImageSelector:
    """Another Patchwarden image, by name and version selector (``web-base:1.x.x``)."""

    name: str
    version: VersionSelector


Parent = Bootstrap | ExternalImage | ImageSelector
"""What a recipe builds on."""


@dataclass(frozen=True)
class ComponentRef:
    """A component of a recipe, with the values of its string parameters."""

    name: str
    version: VersionSelector
    parameters: tuple[tuple[str, str], ...] = ()
    """(name, value) in the order given.  AWS writes ``[{name, value: [str]}]``; a string
    parameter takes exactly one value (the document layer accepts a list of one string or a
    plain string)."""


@dataclass(frozen=True)
class ContainerConfig:
    """The image config's run settings (OCI ``Cmd``, ``Entrypoint``, ``Env``…)."""

    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""


@dataclass(frozen=True)
class Recipe:
    """An image recipe: one immutable ``name`` + ``version``."""

    name: str
    version: SemanticVersion
    parent: Parent
    components: tuple[ComponentRef, ...]
    """At least one, run in order."""
    labels: tuple[tuple[str, str], ...] = ()
    """OCI labels, sorted by key."""
    config: ContainerConfig = field(default_factory=ContainerConfig)
    description: str = ""


@dataclass(frozen=True)
class Gate:
    """The scan gate of a pipeline: an image that exceeds a threshold fails its build."""

    max_findings: tuple[tuple[Severity, int], ...] = ()
    """At most N ACTIVE findings of this severity; a severity not listed has no limit."""
    fail_on_known_exploited: bool = False
    """Fail on any ACTIVE finding in CISA's Known Exploited Vulnerabilities catalogue."""
    max_epss: float | None = None
    """Fail when an ACTIVE finding has an EPSS score >= this."""
    ignore_unfixed: bool = False
    """Findings without any fix (``fix_available`` NO) do not count."""

    @property
    def empty(self) -> bool:
        """Whether the gate has no threshold at all (every image passes)."""
        return not self.max_findings and not self.fail_on_known_exploited and self.max_epss is None


MAX_NAMED = 5
"""A gate failure names at most this many findings."""


def _named(findings: list[Finding], epss: bool = False) -> str:
    ordered = sorted(findings, key=lambda f: (f.vulnerability_id, f.package_name, f.package_arch))
    parts = []
    for finding in ordered[:MAX_NAMED]:
        text = f"{finding.vulnerability_id} in {finding.package_name}"
        if epss and finding.epss is not None:
            text += f" (EPSS {finding.epss:g})"
        parts.append(text)
    more = len(ordered) - MAX_NAMED
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _count(n: int, what: str) -> str:
    return f"{n} {what} finding{'' if n == 1 else 's'}"


def gate_failures(gate: Gate, findings: Iterable[Finding]) -> list[str]:
    """One sentence per exceeded threshold (empty: the image passes), e.g. ``2 HIGH findings
    (at most 0 allowed): CVE-2099-0001 in openssl, CVE-2099-0002 in zlib``.  Only ACTIVE
    findings count (suppressed and closed ones never do); with ``ignore_unfixed`` a finding
    whose ``fix_available`` is NO does not count either.  Each sentence names at most
    :data:`MAX_NAMED` findings, sorted by id."""
    counted = [
        f
        for f in findings
        if f.status is FindingStatus.ACTIVE
        and not (gate.ignore_unfixed and f.fix_available is FixAvailable.NO)
    ]
    failures = []
    for severity, limit in gate.max_findings:
        hits = [f for f in counted if f.severity is severity]
        if len(hits) > limit:
            failures.append(
                f"{_count(len(hits), str(severity))} (at most {limit} allowed): {_named(hits)}"
            )
    if gate.fail_on_known_exploited:
        hits = [f for f in counted if f.known_exploited]
        if hits:
            failures.append(f"{_count(len(hits), 'known exploited')} (CISA KEV): {_named(hits)}")
    if gate.max_epss is not None:
        threshold = gate.max_epss
        hits = [f for f in counted if f.epss is not None and f.epss >= threshold]
        if hits:
            failures.append(
                f"{len(hits)} finding{'' if len(hits) == 1 else 's'} with EPSS >= {threshold:g}: "
                f"{_named(hits, epss=True)}"
            )
    return failures


@dataclass(frozen=True)
class DistributionTarget:
    """One OCI registry repository an image is pushed to."""

    registry: str
    """``host[:port]``: ``127.0.0.1:5055``."""
    repository: str
    """``fleet/web-base``."""
    tags: tuple[str, ...] = ("{{imagebuilder:buildVersion}}",)
    """Tag templates (:func:`render_tag`)."""
    tls_verify: bool = True
    credentials_file: str = ""
    """A containers-auth.json style file; ``""``: none (anonymous push)."""


@dataclass(frozen=True)
class Distribution:
    """A distribution configuration: where a pipeline's images go."""

    name: str
    targets: tuple[DistributionTarget, ...]
    description: str = ""


TAG_TOKENS = (
    "imagebuilder:buildDate",
    "imagebuilder:buildVersion",
    "imagebuilder:semanticVersion",
    "imagebuilder:build",
)
"""The tokens a tag template may hold (``{{ imagebuilder:buildDate }}``: spaces allowed)."""
_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
"""A tag, per the OCI distribution spec."""
BUILD_DATE_FORMAT = "%Y-%m-%dT%H-%M-%SZ"
"""``{{imagebuilder:buildDate}}`` in a tag: the UTC build time as ``2026-10-01T03-00-00Z``
(ISO 8601 with ``-`` for ``:``, which a tag cannot hold)."""


def render_tag(template: str, version: ImageVersion, build_date: datetime) -> str:
    """The tag ``template`` gives for one build.

    Tokens: ``{{imagebuilder:buildDate}}`` → ``build_date`` in UTC as
    ``YYYY-MM-DDTHH-MM-SSZ`` (:data:`BUILD_DATE_FORMAT`; a naive datetime is taken as UTC);
    ``{{imagebuilder:buildVersion}}`` → ``1.2.3-4`` (:attr:`ImageVersion.tag`);
    ``{{imagebuilder:semanticVersion}}`` → ``1.2.3``; ``{{imagebuilder:build}}`` → ``4``.
    ValueError for an unknown token or a result that is not a valid OCI tag."""
    when = build_date.astimezone(UTC) if build_date.tzinfo else build_date
    values = {
        "imagebuilder:buildDate": when.strftime(BUILD_DATE_FORMAT),
        "imagebuilder:buildVersion": version.tag,
        "imagebuilder:semanticVersion": str(version.semantic),
        "imagebuilder:build": str(version.build),
    }

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        if token not in values:
            raise ValueError(
                f"unknown token {{{{{token}}}}} in {template!r} "
                f"(known: {', '.join('{{' + t + '}}' for t in TAG_TOKENS)})"
            )
        return values[token]

    tag = _TOKEN.sub(value, template)
    if not OCI_TAG.match(tag):
        raise ValueError(
            f"{template!r} gives {tag!r}, not a valid tag "
            "(1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)"
        )
    return tag


class StartCondition(StrEnum):
    """``pipelineExecutionStartCondition``."""

    EXPRESSION_MATCH_ONLY = "EXPRESSION_MATCH_ONLY"
    """Build on every schedule match."""
    EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE = (
        "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    )
    """Build on a match only when a wildcard-selected parent or component now resolves to a
    newer version (the AWS default)."""


@dataclass(frozen=True)
class PipelineSchedule:
    """A pipeline's ``schedule``."""

    expression: str
    """``cron(0 3 * * ? *)`` in the §5 dialect (at least 1 minute between runs)."""
    timezone: str = "UTC"
    start_condition: StartCondition = (
        StartCondition.EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE
    )
    failure_count: int | None = None
    """``autoDisablePolicy.failureCount`` (1..10): disable the pipeline after this many
    consecutive failed scheduled runs; ``None``: never."""


@dataclass(frozen=True)
class RebuildOnFix:
    """A pipeline's ``rebuildOnFix`` (a Patchwarden extension): the server rebuilds the
    pipeline's newest AVAILABLE image when a fix appears for one of its findings at or above
    ``severity``, or — for a recipe built on another image — when that parent image has a
    newer AVAILABLE version (:func:`patchwarden.core.staleness.rebuild_decision`)."""

    severity: Severity = Severity.HIGH
    cool_down_minutes: int = 60
    """No rebuild sooner than this after the pipeline's last build start."""
    max_builds_per_day: int = 4
    """At most this many builds of the pipeline start per UTC day (rebuilds count them
    all, whoever started them)."""


@dataclass(frozen=True)
class ImagePipeline:
    """An image pipeline: build a recipe, test, scan against the gate, distribute."""

    name: str
    recipe: tuple[str, VersionSelector]
    tests_enabled: bool = True
    tests_timeout_minutes: int = 720
    scanning_enabled: bool = True
    gate: Gate = field(default_factory=Gate)
    distribution: str = ""
    """A :class:`Distribution` name (``""``: the image stays local)."""
    patch_baseline: str = ""
    """A PatchBaseline name: UpdateOS steps install what it approves (``""``: every
    update)."""
    schedule: PipelineSchedule | None = None
    enabled: bool = True
    description: str = ""
    rebuild_on_fix: RebuildOnFix | None = None
    """``None``: the server never rebuilds the pipeline's images by itself."""
    deployment: str = ""
    """A ``Deployment`` that rolls out each image that passes the gate (``""``: none)."""


@dataclass(frozen=True)
class BuildInputs:
    """What a build is made of, resolved: the recipe, each component (in recipe order: the
    name the log uses, the component, its parameters), and — for a pipeline run — the
    pipeline, its distribution configuration and patch baseline."""

    recipe: Recipe
    components: tuple[tuple[str, Component, tuple[tuple[str, str], ...]], ...]
    pipeline: ImagePipeline | None = None
    distribution: Distribution | None = None
    baseline: PatchBaseline | None = None
