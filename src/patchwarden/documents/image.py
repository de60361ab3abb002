"""EC2 Image Builder documents (reference §11): ``ImageRecipe``, ``ImagePipeline``,
``DistributionConfiguration`` and ``LifecyclePolicy``, with AWS field names inside ``spec``::

    apiVersion: patchwarden/v1
    kind: ImageRecipe
    metadata: {name: web-base}
    spec:
      name: web-base                      # default: metadata.name
      semanticVersion: 1.0.0
      parentImage:                        # or "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
        bootstrap:                        # "docker-archive:FILE", "docker://HOST/REPO:TAG",
          suite: bookworm                 # another image "web-base:1.x.x" or its ARN
          mirrors: ["deb [trusted=yes] copy:///srv/repo bookworm main"]
          variant: minbase
          include: [ca-certificates]
      components:
        - componentArn: hardening/1.x.x   # or "hardening:1.0.0", or a component ARN
          parameters: [{name: banner, value: ["Authorised use only"]}]
      labels: {org.example.team: platform}
      containerConfig: {cmd: [nginx, -g, daemon off;], env: {LANG: C.UTF-8}}
    ---
    kind: ImagePipeline
    spec:
      imageRecipeArn: web-base/1.x.x
      imageTestsConfiguration: {imageTestsEnabled: true, timeoutMinutes: 720}
      imageScanningConfiguration:
        imageScanningEnabled: true
        gate: {maxFindings: {CRITICAL: 0, HIGH: 0}, failOnKnownExploited: true,
               maxEpss: 0.5, ignoreUnfixed: false}
      distributionConfigurationArn: local-registry
      patchBaseline: debian-security-7days
      schedule: {scheduleExpression: "cron(0 3 * * ? *)", timezone: UTC,
                 pipelineExecutionStartCondition: EXPRESSION_MATCH_ONLY,
                 autoDisablePolicy: {failureCount: 3}}
      rebuildOnFix: {severity: HIGH, coolDownMinutes: 60, maxBuildsPerDay: 4}
      status: ENABLED
    ---
    kind: DistributionConfiguration
    spec:
      distributions:
        - containerDistributionConfiguration:
            targetRepository: {service: OCI, registry: "127.0.0.1:5055",
                               repositoryName: fleet/web-base}
            containerTags: ["{{imagebuilder:buildVersion}}", latest]
            tlsVerify: false
    ---
    kind: LifecyclePolicy
    spec:
      resourceType: CONTAINER_IMAGE
      policyDetails:
        - {action: {type: DELETE}, filter: {type: COUNT, value: 3}}
        - action: {type: DEPRECATE}
          filter: {type: AGE, value: 30, unit: DAYS, retainAtLeast: 2}
          exclusionRules: {tagMap: {keep: "true"}}
      resourceSelection: {recipes: [{name: web-base, semanticVersion: 1.x.x}]}

Patchwarden's extensions and departures from AWS:

- ``parentImage`` takes an mmdebstrap ``bootstrap`` or an OCI/Docker reference instead of an
  AMI, SSM parameter or Marketplace product;
- ``ImagePipeline.patchBaseline`` names a PatchBaseline: the recipe's UpdateOS steps then
  install only what it approves;
- ``imageScanningConfiguration.gate`` fails a build whose scan exceeds its thresholds;
- a distribution pushes to an OCI registry (``service: OCI`` with ``registry``,
  ``tlsVerify`` and ``credentialsFile``): ECR is not reachable from a self-hosted fleet;
- a lifecycle policy selects recipes by a version selector with ``x`` wildcards, so images
  of newer recipe versions stay covered; it manages ``CONTAINER_IMAGE`` only;
- a schedule takes ``cron()`` only, at least one minute apart (as Image Builder);
- ``ImagePipeline.rebuildOnFix`` (``severity`` default HIGH, ``coolDownMinutes`` 60,
  ``maxBuildsPerDay`` 4) lets the server rebuild the pipeline's image when a fix appears
  for one of its findings or its parent image is updated; absent: off.

Every malformed field gives one :class:`~patchwarden.errors.InputError` line naming its path.
:func:`load_image_documents` reads a file or directory and resolves names and selectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, Field, ValidationError, field_validator

from patchwarden.core.lifecycle import (
    LifecycleAction,
    LifecyclePolicy,
    PolicyDetail,
    ResourceSelection,
)
from patchwarden.core.recipe import (
    BOOTSTRAP_VARIANTS,
    EXTERNAL_PREFIXES,
    Bootstrap,
    BuildInputs,
    ComponentRef,
    ContainerConfig,
    Distribution,
    DistributionTarget,
    ExternalImage,
    Gate,
    ImagePipeline,
    ImageSelector,
    Parent,
    PipelineSchedule,
    RebuildOnFix,
    Recipe,
    StartCondition,
    render_tag,
)
from patchwarden.core.schedule import parse_schedule, shortest_interval, validate_timezone
from patchwarden.core.schedule.firing import never_matches
from patchwarden.core.semver import (
    NAME_PATTERN,
    NAME_RULE,
    ImageVersion,
    SemanticVersion,
    VersionSelector,
    newest,
    parse_named,
)
from patchwarden.core.vuln import Severity
from patchwarden.documents.baseline import BaselineDocument
from patchwarden.documents.component import ComponentDocument
from patchwarden.documents.envelope import Metadata, StrictModel, stored, translate
from patchwarden.errors import InputError

RECIPE = "ImageRecipe"
PIPELINE = "ImagePipeline"
DISTRIBUTION = "DistributionConfiguration"
LIFECYCLE = "LifecyclePolicy"

_NAME = re.compile(f"^{NAME_PATTERN}$")
_BASELINE_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{3,128}$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
_SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}$")
_ARCH = re.compile(r"^([a-z0-9][a-z0-9\-]{0,31})?$")
_REGISTRY = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$"
)
REPOSITORY_PATTERN = r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
"""A repository name per the OCI distribution spec."""
_REPOSITORY = re.compile(f"^{REPOSITORY_PATTERN}$")
_NAME_ARN = re.compile(r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]*:[0-9a-z-]*:([a-z-]+)/(.+)$")
SAMPLE_VERSION = ImageVersion(SemanticVersion(1, 0, 0), 1)
"""The version a distribution's tag templates are rendered with when loaded."""
SAMPLE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
MIN_SCHEDULE_SECONDS = 60
"""Image Builder runs a pipeline at most once a minute."""


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"must be {NAME_RULE}")
    return value


def _no_newline(value: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("must be one line (no newline)")
    return value


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"label key {key!r}: must be non-empty, without whitespace")
        if "\0" in text:
            raise ValueError(f"label {key!r}: must not hold a NUL character")
    return value


def _check_tag_map(value: dict[str, str] | None) -> dict[str, str] | None:
    for key in value or {}:
        if not key or len(key) > 128:
            raise ValueError(f"tag key {key!r}: must be 1-128 characters")
    return value


def _mirror(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return _no_newline(value)


def _package(value: str) -> str:
    if not value or any(c.isspace() or c == "," for c in value):
        raise ValueError(f"must be a package name, without spaces or commas, got {value!r}")
    return value


def _tag_template(value: str) -> str:
    render_tag(value, SAMPLE_VERSION, SAMPLE_DATE)
    return value


Mirror = Annotated[str, AfterValidator(_mirror)]
"""A sources.list line or URL, as mmdebstrap takes it (one line)."""
Package = Annotated[str, AfterValidator(_package)]
TagTemplate = Annotated[str, AfterValidator(_tag_template)]
"""A container tag template, checked by rendering it for :data:`SAMPLE_VERSION`."""


# -- ImageRecipe ------------------------------------------------------------------------------


class BootstrapSpec(StrictModel):
    """``parentImage.bootstrap``: a root made by mmdebstrap."""

    suite: str
    mirrors: list[Mirror] = Field(default_factory=list, max_length=20)
    variant: Literal[
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
    ] = "minbase"
    include: list[Package] = Field(default_factory=list, max_length=500)
    architecture: str = ""

    @field_validator("suite")
    @classmethod
    def _suite(cls, value: str) -> str:
        if not _SUITE.match(value):
            raise ValueError(f"must be a suite or codename (bookworm, jammy), got {value!r}")
        return value

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: str) -> str:
        if not _ARCH.match(value):
            raise ValueError(f"must be a Debian architecture (amd64, arm64), got {value!r}")
        return value


class ParentSpec(StrictModel):
    """``parentImage`` as a mapping."""

    bootstrap: BootstrapSpec


class ParameterSpec(StrictModel):
    """A component parameter: ``{name, value: [one string]}`` (a plain string is accepted)."""

    name: str = Field(min_length=1, max_length=256)
    value: Any

    @field_validator("value")
    @classmethod
    def _one(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value
        raise ValueError("must be a list of exactly one string (or a string)")

    @property
    def text(self) -> str:
        """The parameter's one value."""
        return self.value if isinstance(self.value, str) else str(self.value[0])


class ComponentConfigSpec(StrictModel):
    """``components[]``: ``componentArn`` and its ``parameters``."""

    componentArn: str
    parameters: list[ParameterSpec] = Field(default_factory=list, max_length=100)

    @field_validator("componentArn")
    @classmethod
    def _arn(cls, value: str) -> str:
        parse_named(value, "component")
        return value

    @field_validator("parameters")
    @classmethod
    def _unique(cls, value: list[ParameterSpec]) -> list[ParameterSpec]:
        names = [p.name for p in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"parameter {name!r} is given twice")
        return value


class ContainerConfigSpec(StrictModel):
    """``containerConfig``: the image config's run settings."""

    cmd: list[str] = Field(default_factory=list)
    entrypoint: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    workingDir: str = ""
    user: str = ""

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or "=" in key or any(c.isspace() for c in key) or "\0" in key + text:
                raise ValueError(f"{key!r}: a variable name, without '=' or whitespace")
        return value

    @field_validator("workingDir")
    @classmethod
    def _dir(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError(f"must be an absolute path, got {value!r}")
        return _no_newline(value)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError(f"must be a user[:group] without whitespace, got {value!r}")
        return value


class RecipeSpec(StrictModel):
    """``spec`` of an ``ImageRecipe``."""

    name: str | None = None
    semanticVersion: str
    description: str = Field(default="", max_length=1024)
    parentImage: Any
    components: list[ComponentConfigSpec] = Field(min_length=1, max_length=20)
    labels: dict[str, str] = Field(default_factory=dict)
    containerConfig: ContainerConfigSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("semanticVersion")
    @classmethod
    def _version(cls, value: str) -> str:
        SemanticVersion.parse(value)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)


def _parent(raw: object) -> Parent:
    where = "spec.parentImage"
    if isinstance(raw, str):
        if raw.startswith(EXTERNAL_PREFIXES):
            prefix = next(p for p in EXTERNAL_PREFIXES if raw.startswith(p))
            rest = raw.removeprefix(prefix)
            if not rest or any(c.isspace() for c in raw):
                raise InputError(f"{where}: {prefix} needs a location without spaces, got {raw!r}")
            return ExternalImage(raw)
        if _AMI.match(raw) or raw.startswith("ssm:"):
            raise InputError(
                f"{where}: {raw!r} is an AMI or SSM parameter; a container image builds on "
                "{bootstrap: …}, oci:…, oci-archive:…, docker-archive:…, docker://… "
                "or another image (NAME:1.x.x)"
            )
        try:
            name, selector = parse_named(raw, "image")
        except ValueError as exc:
            raise InputError(
                f"{where}: {exc} (or give oci:, oci-archive:, docker-archive:, docker:// "
                "or {bootstrap: …})"
            ) from None
        return ImageSelector(name, selector)
    if isinstance(raw, dict):
        try:
            spec = ParentSpec.model_validate(raw)
        except ValidationError as exc:
            raise translate(exc, where) from None
        boot = spec.bootstrap
        assert boot.variant in BOOTSTRAP_VARIANTS
        return Bootstrap(
            suite=boot.suite,
            mirrors=tuple(boot.mirrors),
            variant=boot.variant,
            include=tuple(boot.include),
            architecture=boot.architecture,
        )
    got = {"NoneType": "null", "list": "list"}.get(type(raw).__name__, type(raw).__name__)
    raise InputError(
        f"{where}: must be a string (NAME:1.x.x, oci:DIR, docker://HOST/REPO:TAG…) "
        f"or a mapping {{bootstrap: …}}, got {got}"
    )


def _recipe(metadata: Metadata, spec: RecipeSpec) -> Recipe:
    components = []
    for ref in spec.components:
        name, selector = parse_named(ref.componentArn, "component")
        parameters = tuple((p.name, p.text) for p in ref.parameters)
        components.append(ComponentRef(name, selector, parameters))
    config = spec.containerConfig or ContainerConfigSpec()
    return Recipe(
        name=spec.name or metadata.name,
        version=SemanticVersion.parse(spec.semanticVersion),
        parent=_parent(spec.parentImage),
        components=tuple(components),
        labels=tuple(sorted(spec.labels.items())),
        config=ContainerConfig(
            cmd=tuple(config.cmd),
            entrypoint=tuple(config.entrypoint),
            env=tuple(config.env.items()),
            working_dir=config.workingDir,
            user=config.user,
        ),
        description=spec.description or metadata.description or "",
    )


@dataclass(frozen=True)
class ImageRecipeDocument:
    """A loaded ``ImageRecipe``."""

    name: str
    spec: RecipeSpec
    recipe: Recipe
    source: str
    description: str | None = None
    kind: str = RECIPE

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return stored(RECIPE, self.name, spec, self.description)


# -- ImagePipeline ----------------------------------------------------------------------------


class ImageTestsSpec(StrictModel):
    """``imageTestsConfiguration``."""

    imageTestsEnabled: bool = True
    timeoutMinutes: int = Field(default=720, ge=60, le=1440)


class GateSpec(StrictModel):
    """``imageScanningConfiguration.gate`` (a Patchwarden extension)."""

    maxFindings: dict[str, int] = Field(default_factory=dict)
    failOnKnownExploited: bool = False
    maxEpss: float | None = Field(default=None, ge=0, le=1)
    ignoreUnfixed: bool = False

    @field_validator("maxFindings")
    @classmethod
    def _severities(cls, value: dict[str, int]) -> dict[str, int]:
        for key, count in value.items():
            if key not in Severity.__members__:
                raise ValueError(
                    f"unknown severity {key!r} (one of {', '.join(Severity.__members__)})"
                )
            if count < 0:
                raise ValueError(f"{key}: must be 0 or more, got {count}")
        return value


class ScanningSpec(StrictModel):
    """``imageScanningConfiguration``."""

    imageScanningEnabled: bool = True
    gate: GateSpec | None = None


class AutoDisableSpec(StrictModel):
    """``schedule.autoDisablePolicy``."""

    failureCount: int = Field(ge=1, le=10)


class ScheduleSpec(StrictModel):
    """``schedule``."""

    scheduleExpression: str = Field(min_length=1, max_length=256)
    timezone: str = "UTC"
    pipelineExecutionStartCondition: Literal[
        "EXPRESSION_MATCH_ONLY", "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    ] = "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    autoDisablePolicy: AutoDisableSpec | None = None

    @field_validator("scheduleExpression")
    @classmethod
    def _expression(cls, value: str) -> str:
        schedule = parse_schedule(value)
        if schedule.kind != "cron":
            raise ValueError(f"must be a cron() expression (Image Builder), got {value!r}")
        if schedule.cron is not None and never_matches(schedule.cron):
            raise ValueError(f"{value} never fires (no date matches it)")
        gap = shortest_interval(schedule)
        if gap is not None and gap.total_seconds() < MIN_SCHEDULE_SECONDS:
            raise ValueError(f"{value} fires more than once a minute (Image Builder's limit)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        validate_timezone(value)
        return value


class RebuildOnFixSpec(StrictModel):
    """``rebuildOnFix`` (a Patchwarden extension): the server rebuilds the pipeline's newest
    AVAILABLE image when a fix appears for a finding at or above ``severity`` (or its parent
    image is updated); the key present (even ``{}``) turns it on."""

    severity: str = "HIGH"
    coolDownMinutes: int = Field(default=60, ge=0, le=10080)
    maxBuildsPerDay: int = Field(default=4, ge=1, le=96)

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value not in Severity.__members__ or value == "UNTRIAGED":
            known = ", ".join(s for s in Severity.__members__ if s != "UNTRIAGED")
            raise ValueError(f"unknown severity {value!r} (one of {known})")
        return value


def _resource_name(value: str, resource: str) -> str:
    """A name, or the name in an Image Builder ARN of ``resource``."""
    arn = _NAME_ARN.match(value)
    if arn:
        if arn.group(1) != resource:
            raise ValueError(f"must be a name or an ARN of {resource}/NAME, got {value!r}")
        value = arn.group(2)
    return _check_name(value)


class PipelineSpec(StrictModel):
    """``spec`` of an ``ImagePipeline``."""

    name: str | None = None
    description: str = Field(default="", max_length=1024)
    imageRecipeArn: str
    imageTestsConfiguration: ImageTestsSpec | None = None
    imageScanningConfiguration: ScanningSpec | None = None
    distributionConfigurationArn: str | None = None
    patchBaseline: str | None = None
    """A PatchBaseline's name (Patchwarden extension): UpdateOS installs what it approves."""
    schedule: ScheduleSpec | None = None
    status: Literal["ENABLED", "DISABLED"] = "ENABLED"
    rebuildOnFix: RebuildOnFixSpec | None = None
    deployment: str | None = None
    """A ``Deployment``'s name (Patchwarden extension): each image that passes the gate is
    rolled out by it (automatic promotion)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("imageRecipeArn")
    @classmethod
    def _recipe(cls, value: str) -> str:
        parse_named(value, "image-recipe")
        return value

    @field_validator("distributionConfigurationArn")
    @classmethod
    def _distribution(cls, value: str | None) -> str | None:
        return None if value is None else _resource_name(value, "distribution-configuration")

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str | None) -> str | None:
        if value is not None and not _DEPLOYMENT_NAME.match(value):
            raise ValueError(f"must be a Deployment's name (letters, digits, . _ -), got {value!r}")
        return value

    @field_validator("patchBaseline")
    @classmethod
    def _baseline(cls, value: str | None) -> str | None:
        if value is not None and not _BASELINE_NAME.match(value):
            raise ValueError("must be a PatchBaseline name: 3-128 characters of a-z A-Z 0-9 _ - .")
        return value


def _pipeline(name: str, spec: PipelineSpec, description: str) -> ImagePipeline:
    tests = spec.imageTestsConfiguration or ImageTestsSpec()
    scanning = spec.imageScanningConfiguration or ScanningSpec()
    gate = Gate()
    if scanning.gate is not None:
        if not scanning.imageScanningEnabled:
            raise InputError(
                "spec.imageScanningConfiguration.gate: gate needs imageScanningEnabled: true"
            )
        given = scanning.gate
        limits = sorted(
            ((Severity(key), count) for key, count in given.maxFindings.items()),
            key=lambda pair: -pair[0].rank,
        )
        gate = Gate(
            max_findings=tuple(limits),
            fail_on_known_exploited=given.failOnKnownExploited,
            max_epss=given.maxEpss,
            ignore_unfixed=given.ignoreUnfixed,
        )
    schedule = None
    if spec.schedule is not None:
        given_schedule = spec.schedule
        schedule = PipelineSchedule(
            expression=given_schedule.scheduleExpression,
            timezone=given_schedule.timezone,
            start_condition=StartCondition(given_schedule.pipelineExecutionStartCondition),
            failure_count=(
                given_schedule.autoDisablePolicy.failureCount
                if given_schedule.autoDisablePolicy
                else None
            ),
        )
    distribution = spec.distributionConfigurationArn
    rebuild = None
    if spec.rebuildOnFix is not None:
        rebuild = RebuildOnFix(
            severity=Severity(spec.rebuildOnFix.severity),
            cool_down_minutes=spec.rebuildOnFix.coolDownMinutes,
            max_builds_per_day=spec.rebuildOnFix.maxBuildsPerDay,
        )
    return ImagePipeline(
        name=name,
        recipe=parse_named(spec.imageRecipeArn, "image-recipe"),
        tests_enabled=tests.imageTestsEnabled,
        tests_timeout_minutes=tests.timeoutMinutes,
        scanning_enabled=scanning.imageScanningEnabled,
        gate=gate,
        distribution="" if distribution is None else distribution,
        patch_baseline=spec.patchBaseline or "",
        schedule=schedule,
        enabled=spec.status == "ENABLED",
        description=description,
        rebuild_on_fix=rebuild,
        deployment=spec.deployment or "",
    )


@dataclass(frozen=True)
class ImagePipelineDocument:
    """A loaded ``ImagePipeline``."""

    name: str
    spec: PipelineSpec
    pipeline: ImagePipeline
    source: str
    description: str | None = None
    kind: str = PIPELINE

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return stored(PIPELINE, self.name, spec, self.description)


# -- DistributionConfiguration ----------------------------------------------------------------


class RepositorySpec(StrictModel):
    """``targetRepository``: an OCI registry and repository."""

    service: str
    registry: str
    repositoryName: str

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if value != "OCI":
            raise ValueError(
                f"must be OCI, got {value!r} (ECR is not reachable from a self-hosted fleet: "
                "push to an OCI registry)"
            )
        return value

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        if not _REGISTRY.match(value):
            raise ValueError(f"must be host[:port] (127.0.0.1:5055), got {value!r}")
        return value

    @field_validator("repositoryName")
    @classmethod
    def _repository(cls, value: str) -> str:
        if len(value) > 255 or not _REPOSITORY.match(value):
            raise ValueError(
                "must be lower-case path components of a-z 0-9 separated by . _ - "
                f"(fleet/web-base), got {value!r}"
            )
        return value


class ContainerDistributionSpec(StrictModel):
    """``containerDistributionConfiguration``."""

    description: str = Field(default="", max_length=1024)
    targetRepository: RepositorySpec
    containerTags: list[TagTemplate] = Field(
        default_factory=lambda: ["{{imagebuilder:buildVersion}}"], min_length=1, max_length=50
    )
    tlsVerify: bool = True
    credentialsFile: str = ""

    @field_validator("credentialsFile")
    @classmethod
    def _credentials(cls, value: str) -> str:
        return _no_newline(value)


class DistributionEntrySpec(StrictModel):
    """``distributions[]``."""

    containerDistributionConfiguration: ContainerDistributionSpec


class DistributionSpec(StrictModel):
    """``spec`` of a ``DistributionConfiguration``."""

    name: str | None = None
    description: str = Field(default="", max_length=1024)
    distributions: list[DistributionEntrySpec] = Field(min_length=1, max_length=10)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)


def _distribution(name: str, spec: DistributionSpec, description: str) -> Distribution:
    targets = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(spec.distributions):
        given = entry.containerDistributionConfiguration
        repo = given.targetRepository
        if (repo.registry, repo.repositoryName) in seen:
            raise InputError(
                f"spec.distributions[{index}].containerDistributionConfiguration."
                f"targetRepository: {repo.registry}/{repo.repositoryName} is given twice"
            )
        seen.add((repo.registry, repo.repositoryName))
        targets.append(
            DistributionTarget(
                registry=repo.registry,
                repository=repo.repositoryName,
                tags=tuple(given.containerTags),
                tls_verify=given.tlsVerify,
                credentials_file=given.credentialsFile,
            )
        )
    return Distribution(name, tuple(targets), description)


@dataclass(frozen=True)
class DistributionDocument:
    """A loaded ``DistributionConfiguration``."""

    name: str
    spec: DistributionSpec
    distribution: Distribution
    source: str
    description: str | None = None
    kind: str = DISTRIBUTION

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return stored(DISTRIBUTION, self.name, spec, self.description)


# -- LifecyclePolicy --------------------------------------------------------------------------


class ActionSpec(StrictModel):
    """``policyDetails[].action``."""

    type: Literal["DEPRECATE", "DISABLE", "DELETE"]


class FilterSpec(StrictModel):
    """``policyDetails[].filter``."""

    type: Literal["AGE", "COUNT"]
    value: int = Field(ge=1, le=1000)
    unit: Literal["DAYS", "WEEKS", "MONTHS", "YEARS"] | None = None
    retainAtLeast: int | None = Field(default=None, ge=1, le=10)


class ExclusionSpec(StrictModel):
    """``policyDetails[].exclusionRules`` (container images: tags only)."""

    tagMap: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("tagMap")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str] | None:
        return _check_tag_map(value)


class DetailSpec(StrictModel):
    """``policyDetails[]``."""

    action: ActionSpec
    filter: FilterSpec
    exclusionRules: ExclusionSpec | None = None


class RecipeSelectionSpec(StrictModel):
    """``resourceSelection.recipes[]``: a recipe name and a version selector (``1.x.x``)."""

    name: str
    semanticVersion: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("semanticVersion")
    @classmethod
    def _version(cls, value: str) -> str:
        if VersionSelector.parse(value).build is not None:
            raise ValueError(f"must be a recipe version or wildcard (1.x.x), got {value!r}")
        return value


class SelectionSpec(StrictModel):
    """``resourceSelection``: exactly one of ``recipes`` and ``tagMap``."""

    recipes: list[RecipeSelectionSpec] | None = Field(default=None, min_length=1, max_length=50)
    tagMap: dict[str, str] | None = Field(default=None, min_length=1, max_length=50)

    @field_validator("tagMap")
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_tag_map(value)


class LifecycleSpec(StrictModel):
    """``spec`` of a ``LifecyclePolicy``."""

    name: str | None = None
    description: str = Field(default="", max_length=1024)
    status: Literal["ENABLED", "DISABLED"] = "ENABLED"
    resourceType: str = "CONTAINER_IMAGE"
    policyDetails: list[DetailSpec] = Field(min_length=1, max_length=3)
    resourceSelection: SelectionSpec

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("resourceType")
    @classmethod
    def _resource(cls, value: str) -> str:
        if value == "AMI_IMAGE":
            raise ValueError(
                "AMI_IMAGE is not supported: Patchwarden builds container images "
                "(use CONTAINER_IMAGE)"
            )
        if value != "CONTAINER_IMAGE":
            raise ValueError(f"must be CONTAINER_IMAGE, got {value!r}")
        return value


def _lifecycle(name: str, spec: LifecycleSpec, description: str) -> LifecyclePolicy:
    details = []
    actions: list[str] = []
    for index, given in enumerate(spec.policyDetails):
        where = f"spec.policyDetails[{index}]"
        if given.action.type in actions:
            raise InputError(
                f"{where}.action.type: {given.action.type} is given twice (one detail per action)"
            )
        actions.append(given.action.type)
        found = given.filter
        if found.type == "AGE" and found.unit is None:
            raise InputError(f"{where}.filter.unit: required when type is AGE")
        if found.type == "COUNT" and found.unit is not None:
            raise InputError(f"{where}.filter.unit: only for type AGE (COUNT counts images)")
        if found.type == "COUNT" and found.retainAtLeast is not None:
            raise InputError(f"{where}.filter.retainAtLeast: only for type AGE")
        exclusions = given.exclusionRules.tagMap if given.exclusionRules else {}
        details.append(
            PolicyDetail(
                action=LifecycleAction(given.action.type),
                filter_type=found.type,
                value=found.value,
                unit=found.unit or "",
                retain_at_least=found.retainAtLeast,
                exclude_tags=tuple(sorted(exclusions.items())),
            )
        )
    selection = spec.resourceSelection
    if (selection.recipes is None) == (selection.tagMap is None):
        raise InputError("spec.resourceSelection: give exactly one of recipes and tagMap")
    recipes = tuple(
        (r.name, VersionSelector.parse(r.semanticVersion)) for r in selection.recipes or ()
    )
    return LifecyclePolicy(
        name=name,
        details=tuple(details),
        selection=ResourceSelection(recipes, tuple(sorted((selection.tagMap or {}).items()))),
        enabled=spec.status == "ENABLED",
        description=description,
        resource_type=spec.resourceType,
    )


@dataclass(frozen=True)
class LifecyclePolicyDocument:
    """A loaded ``LifecyclePolicy``."""

    name: str
    spec: LifecycleSpec
    policy: LifecyclePolicy
    source: str
    description: str | None = None
    kind: str = LIFECYCLE

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        return stored(LIFECYCLE, self.name, spec, self.description)


# -- loaders ----------------------------------------------------------------------------------

_M = TypeVar("_M", RecipeSpec, PipelineSpec, DistributionSpec, LifecycleSpec)


def _validate(model: type[_M], metadata: Metadata, spec: object, unique: bool) -> _M:
    """The spec model; ``unique``: ``spec.name``, when given, must be ``metadata.name``."""
    if not _NAME.match(metadata.name):
        raise InputError(f"metadata.name: must be {NAME_RULE}")
    try:
        parsed = model.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    if unique and parsed.name is not None and parsed.name != metadata.name:
        raise InputError(
            f"spec.name: {parsed.name!r} differs from metadata.name ({metadata.name!r}); "
            "give only one"
        )
    return parsed


def load_recipe_document(metadata: Metadata, spec: object, source: str) -> ImageRecipeDocument:
    """Validate an ``ImageRecipe`` (``spec.name`` defaults to ``metadata.name``; they may
    differ, as several versions of one recipe need several documents)."""
    model = _validate(RecipeSpec, metadata, spec, unique=False)
    return ImageRecipeDocument(
        metadata.name, model, _recipe(metadata, model), source, metadata.description
    )


def load_pipeline_document(metadata: Metadata, spec: object, source: str) -> ImagePipelineDocument:
    """Validate an ``ImagePipeline``."""
    model = _validate(PipelineSpec, metadata, spec, unique=True)
    pipeline = _pipeline(metadata.name, model, model.description or metadata.description or "")
    return ImagePipelineDocument(metadata.name, model, pipeline, source, metadata.description)


def load_distribution_document(
    metadata: Metadata, spec: object, source: str
) -> DistributionDocument:
    """Validate a ``DistributionConfiguration``."""
    model = _validate(DistributionSpec, metadata, spec, unique=True)
    value = _distribution(metadata.name, model, model.description or metadata.description or "")
    return DistributionDocument(metadata.name, model, value, source, metadata.description)


def load_lifecycle_document(
    metadata: Metadata, spec: object, source: str
) -> LifecyclePolicyDocument:
    """Validate a ``LifecyclePolicy``."""
    model = _validate(LifecycleSpec, metadata, spec, unique=True)
    policy = _lifecycle(metadata.name, model, model.description or metadata.description or "")
    return LifecyclePolicyDocument(metadata.name, model, policy, source, metadata.description)


# -- a set of image documents -----------------------------------------------------------------

_D = TypeVar("_D")


def _one(kind: str, name: str, documents: Sequence[_D], key: Callable[[_D], str]) -> _D:
    for document in documents:
        if key(document) == name:
            return document
    names = ", ".join(sorted(key(d) for d in documents)) or "none"
    raise InputError(f"no {kind} named {name!r} (there are: {names})")


def _versioned(
    kind: str,
    name: str,
    selector: VersionSelector,
    found: Sequence[tuple[str, SemanticVersion, _D]],
) -> _D:
    versions = {version: document for n, version, document in found if n == name}
    best = newest(selector, versions)
    if best is not None:
        return versions[best]
    if not versions:
        names = ", ".join(sorted({f"{n} {v}" for n, v, _ in found})) or "none"
        raise InputError(f"no {kind} named {name!r} (there are: {names})")
    known = ", ".join(str(v) for v in sorted(versions))
    raise InputError(f"no version of {kind} {name!r} matches {selector} (versions: {known})")


@dataclass(frozen=True)
class ImageDocuments:
    """The image-building documents of a file or directory (other kinds are left out), with
    lookups that raise one InputError line listing what exists."""

    components: tuple[ComponentDocument, ...] = ()
    recipes: tuple[ImageRecipeDocument, ...] = ()
    pipelines: tuple[ImagePipelineDocument, ...] = ()
    distributions: tuple[DistributionDocument, ...] = ()
    lifecycle_policies: tuple[LifecyclePolicyDocument, ...] = ()
    baselines: tuple[BaselineDocument, ...] = ()

    def recipe(self, name: str, selector: VersionSelector) -> ImageRecipeDocument:
        """The newest recipe ``name`` whose semantic version ``selector`` matches."""
        found = [(d.recipe.name, d.recipe.version, d) for d in self.recipes]
        return _versioned(RECIPE, name, selector, found)

    def recipe_or_none(self, name: str, selector: VersionSelector) -> Recipe | None:
        """The newest recipe ``name`` the selector matches, or ``None`` (a
        :data:`patchwarden.pipeline.image_staleness.RecipeOf`)."""
        try:
            return self.recipe(name, selector).recipe
        except InputError:
            return None

    def component(self, name: str, selector: VersionSelector) -> ComponentDocument:
        """The newest component ``name`` (``spec.name``) whose ``spec.semanticVersion``
        ``selector`` matches."""
        found = [
            (d.spec.name, SemanticVersion.parse(d.spec.semanticVersion), d) for d in self.components
        ]
        return _versioned("Component", name, selector, found)

    def pipeline(self, name: str) -> ImagePipelineDocument:
        """The pipeline ``name``."""
        return _one(PIPELINE, name, self.pipelines, lambda d: d.name)

    def distribution(self, name: str) -> DistributionDocument:
        """The distribution configuration ``name``."""
        return _one(DISTRIBUTION, name, self.distributions, lambda d: d.name)

    def baseline(self, name: str) -> BaselineDocument:
        """The patch baseline ``name``."""
        return _one("PatchBaseline", name, self.baselines, lambda d: d.name)

    def build_inputs(self, pipeline: str | None = None, recipe: str | None = None) -> BuildInputs:
        """What ``image build`` builds: the pipeline ``pipeline`` (its recipe, distribution
        and patch baseline), or the recipe ``recipe`` (``NAME[:1.x.x]``), or — neither
        given — the only pipeline, else the only recipe name (its newest version)."""
        if pipeline is not None and recipe is not None:
            raise InputError("give a pipeline or a recipe, not both")
        chosen = None
        if pipeline is not None:
            chosen = self.pipeline(pipeline).pipeline
        elif recipe is None:
            names = sorted({r.recipe.name for r in self.recipes})
            if len(self.pipelines) == 1:
                chosen = self.pipelines[0].pipeline
            elif self.pipelines:
                listed = ", ".join(p.name for p in self.pipelines)
                raise InputError(f"several pipelines ({listed}): choose one with --pipeline NAME")
            elif len(names) > 1:
                raise InputError(
                    f"several recipes ({', '.join(names)}): choose one with --recipe NAME"
                )
            elif not names:
                raise InputError("no ImageRecipe among the documents")
            else:
                recipe = names[0]
        if chosen is not None:
            name, selector = chosen.recipe
        else:
            try:
                name, selector = parse_named(recipe or "", "image-recipe")
            except ValueError as exc:
                raise InputError(f"recipe {recipe!r}: {exc}") from None
        found = self.recipe(name, selector).recipe
        components = tuple(
            (ref.name, self.component(ref.name, ref.version).component, ref.parameters)
            for ref in found.components
        )
        distribution = baseline = None
        if chosen is not None and chosen.distribution:
            distribution = self.distribution(chosen.distribution).distribution
        if chosen is not None and chosen.patch_baseline:
            baseline = self.baseline(chosen.patch_baseline).baseline
        return BuildInputs(found, components, chosen, distribution, baseline)

    def stored_for(self, inputs: BuildInputs) -> list[dict[str, Any]]:
        """The stored form of every document ``inputs`` was resolved from (what a build
        command carries to its builder)."""
        out: list[dict[str, Any]] = []
        recipe = inputs.recipe
        out += [d.to_json() for d in self.recipes if d.recipe == recipe][:1]
        for _name, component, _ in inputs.components:
            out += [d.to_json() for d in self.components if d.component is component][:1]
        if inputs.pipeline is not None:
            out += [d.to_json() for d in self.pipelines if d.pipeline == inputs.pipeline][:1]
        if inputs.distribution is not None:
            out += [
                d.to_json() for d in self.distributions if d.distribution == inputs.distribution
            ][:1]
        if inputs.baseline is not None:
            from patchwarden.documents.baseline import to_document

            out.append(to_document(inputs.baseline))
        return out

    def lifecycle_policy(self, name: str) -> LifecyclePolicyDocument:
        """The lifecycle policy ``name``."""
        return _one(LIFECYCLE, name, self.lifecycle_policies, lambda d: d.name)


def _unique_versions(kind: str, found: Sequence[tuple[str, str, str]]) -> None:
    """One (name, version) per document: recipe and component versions are immutable."""
    seen: dict[tuple[str, str], str] = {}
    for name, version, source in found:
        if (name, version) in seen:
            raise InputError(
                f"{source}: {kind} {name!r} {version} is already defined in {seen[name, version]}"
            )
        seen[name, version] = source


def load_image_documents(path: Path) -> ImageDocuments:
    """The image-building documents (Component, ImageRecipe, ImagePipeline,
    DistributionConfiguration, LifecyclePolicy, PatchBaseline) of a file or of every
    ``.yaml``/``.yml``/``.json`` file in a directory."""
    from patchwarden.documents import load_documents

    return collect(load_documents(path))


def image_documents_of(raws: Sequence[dict[str, Any]], source: str) -> ImageDocuments:
    """The documents of stored JSON objects (what ``apply`` stored, what a build command
    carries)."""
    import json

    from patchwarden.documents import parse_documents

    loaded = []
    for index, raw in enumerate(raws):
        loaded.extend(parse_documents(json.dumps(raw), f"{source}[{index}].json"))
    return collect(loaded)


def collect(documents: Sequence[object]) -> ImageDocuments:
    """The image-building documents among ``documents`` (versions checked unique)."""
    result = ImageDocuments(
        components=tuple(d for d in documents if isinstance(d, ComponentDocument)),
        recipes=tuple(d for d in documents if isinstance(d, ImageRecipeDocument)),
        pipelines=tuple(d for d in documents if isinstance(d, ImagePipelineDocument)),
        distributions=tuple(d for d in documents if isinstance(d, DistributionDocument)),
        lifecycle_policies=tuple(d for d in documents if isinstance(d, LifecyclePolicyDocument)),
        baselines=tuple(d for d in documents if isinstance(d, BaselineDocument)),
    )
    _unique_versions(
        RECIPE, [(d.recipe.name, str(d.recipe.version), d.source) for d in result.recipes]
    )
    _unique_versions(
        "Component", [(d.spec.name, d.spec.semanticVersion, d.source) for d in result.components]
    )
    return result
