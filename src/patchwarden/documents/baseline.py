"""``PatchBaseline`` documents and raw ``aws ssm get-patch-baseline`` JSON.

Inside ``spec`` the AWS field names are used exactly (``GlobalFilters.PatchFilters``,
``ApprovalRules.PatchRules[].PatchFilterGroup`` …), so an AWS baseline maps 1:1.  Shapes
and types are checked here with pydantic; the AWS ranges and per-OS rules are checked by
:class:`~patchwarden.core.baseline.PatchBaseline` itself, and both kinds of problem come
out as one ``InputError`` line naming the document path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator

from patchwarden.core.baseline import (
    BaselineFieldError,
    PatchBaseline,
    PatchFilter,
    PatchRule,
    PatchSource,
    RejectedPatchesAction,
    SecurityUpdates,
)
from patchwarden.core.model import ComplianceLevel
from patchwarden.documents.envelope import (
    API_VERSION,
    Metadata,
    StrictModel,
    parse_text,
    translate,
)
from patchwarden.errors import InputError

Level = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OS_WORD = re.compile(r"^[A-Za-z0-9_]{1,40}$")


class FilterDoc(StrictModel):
    Key: str
    Values: list[str]


class FilterGroupDoc(StrictModel):
    PatchFilters: list[FilterDoc] = Field(default_factory=list)


class RuleDoc(StrictModel):
    PatchFilterGroup: FilterGroupDoc
    ComplianceLevel: Level = "UNSPECIFIED"
    ApproveAfterDays: int | None = None
    ApproveUntilDate: str | None = None
    EnableNonSecurity: bool = False

    @field_validator("ApproveUntilDate", mode="before")
    @classmethod
    def _day(cls, value: object) -> object:
        if isinstance(value, date):  # YAML reads an unquoted 2024-05-31 as a date
            return value.isoformat()
        if isinstance(value, str) and not _DAY.match(value):
            raise ValueError(f"must be a date written YYYY-MM-DD, got {value!r}")
        return value


class RuleGroupDoc(StrictModel):
    PatchRules: list[RuleDoc] = Field(default_factory=list)


class SourceDoc(StrictModel):
    Name: str
    Products: list[str]
    Configuration: str


class PatchwardenDoc(StrictModel):
    """``spec.Patchwarden``: Patchwarden's own settings, beyond the AWS fields."""

    SecurityUpdates: Literal["AS_APPROVED", "NEWEST_IN_RELEASE"] = "AS_APPROVED"


class BaselineSpec(StrictModel):
    """``spec`` of a ``PatchBaseline`` document: the AWS fields, minus the name, plus
    Patchwarden's own settings under ``Patchwarden``."""

    OperatingSystem: str
    Description: str | None = None
    GlobalFilters: FilterGroupDoc = FilterGroupDoc()
    ApprovalRules: RuleGroupDoc = RuleGroupDoc()
    ApprovedPatches: list[str] = Field(default_factory=list)
    ApprovedPatchesComplianceLevel: Level = "UNSPECIFIED"
    ApprovedPatchesEnableNonSecurity: bool = False
    RejectedPatches: list[str] = Field(default_factory=list)
    RejectedPatchesAction: Literal["ALLOW_AS_DEPENDENCY", "BLOCK"] = "ALLOW_AS_DEPENDENCY"
    Sources: list[SourceDoc] = Field(default_factory=list)
    Patchwarden: PatchwardenDoc = PatchwardenDoc()

    @field_validator("ApprovedPatches", "RejectedPatches", mode="before")
    @classmethod
    def _numbers_are_names(cls, value: object) -> object:
        # An unquoted Bugzilla id (1234567) reads as an int in YAML; it means the string.
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value


class AwsBaseline(BaselineSpec):
    """The JSON ``aws ssm get-patch-baseline`` prints (or ``create-patch-baseline`` takes);
    bookkeeping fields are ignored."""

    Name: str
    BaselineId: str | None = None
    PatchGroups: list[str] = Field(default_factory=list)
    CreatedDate: Any = None
    ModifiedDate: Any = None
    AvailableSecurityUpdatesComplianceStatus: str | None = None
    Tags: Any = None
    ClientToken: Any = None


def _filters(group: FilterGroupDoc) -> tuple[PatchFilter, ...]:
    return tuple(PatchFilter(f.Key, tuple(f.Values)) for f in group.PatchFilters)


def _rule(doc: RuleDoc, path: str) -> PatchRule:
    until = None
    if doc.ApproveUntilDate is not None:
        try:
            until = date.fromisoformat(doc.ApproveUntilDate)
        except ValueError:
            raise InputError(
                f"{path}.ApproveUntilDate: {doc.ApproveUntilDate!r} is not a calendar date"
            ) from None
    return PatchRule(
        filters=_filters(doc.PatchFilterGroup),
        compliance_level=ComplianceLevel(doc.ComplianceLevel),
        approve_after_days=doc.ApproveAfterDays,
        approve_until_date=until,
        enable_non_security=doc.EnableNonSecurity,
    )


def _build(spec: BaselineSpec, name: str, description: str | None, prefix: str) -> PatchBaseline:
    """The core baseline; core validation errors get the document's field path."""
    rules_path = f"{prefix}ApprovalRules.PatchRules"
    try:
        return PatchBaseline(
            name=name,
            operating_system=spec.OperatingSystem,
            description=description,
            global_filters=_filters(spec.GlobalFilters),
            approval_rules=tuple(
                _rule(r, f"{rules_path}[{i}]") for i, r in enumerate(spec.ApprovalRules.PatchRules)
            ),
            approved_patches=tuple(spec.ApprovedPatches),
            approved_patches_compliance_level=ComplianceLevel(spec.ApprovedPatchesComplianceLevel),
            approved_patches_enable_non_security=spec.ApprovedPatchesEnableNonSecurity,
            rejected_patches=tuple(spec.RejectedPatches),
            rejected_patches_action=RejectedPatchesAction(spec.RejectedPatchesAction),
            sources=tuple(
                PatchSource(s.Name, tuple(s.Products), s.Configuration) for s in spec.Sources
            ),
            security_updates=SecurityUpdates(spec.Patchwarden.SecurityUpdates),
        )
    except BaselineFieldError as exc:
        path = {"Name": "metadata.name" if prefix else "Name"}.get(exc.path, prefix + exc.path)
        raise InputError(f"{path}: {exc.problem}") from None


@dataclass(frozen=True)
class BaselineDocument:
    """A loaded ``PatchBaseline`` document."""

    baseline: PatchBaseline
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    kind: ClassVar[str] = "PatchBaseline"

    @property
    def name(self) -> str:
        """``metadata.name``, which is the baseline's Name."""
        return self.baseline.name


def baseline_from_spec(metadata: Metadata, spec: object) -> PatchBaseline:
    """Build a baseline from a document's ``metadata`` and ``spec``."""
    try:
        parsed = BaselineSpec.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    description = parsed.Description
    if metadata.description is not None:
        if description is not None and description != metadata.description:
            raise InputError("spec.Description: differs from metadata.description; give only one")
        description = metadata.description
    return _build(parsed, metadata.name, description, "spec.")


def load_baseline_document(metadata: Metadata, spec: object, source: str) -> BaselineDocument:
    """The registry entry for ``kind: PatchBaseline``."""
    return BaselineDocument(baseline_from_spec(metadata, spec), dict(metadata.labels), source)


def from_aws_json(text: str, *, source: str = "<aws json>") -> PatchBaseline:
    """A baseline from the output of ``aws ssm get-patch-baseline`` (BaselineId,
    PatchGroups, CreatedDate, ModifiedDate, Tags and ClientToken are ignored)."""
    (raw,) = parse_text(text, source, json_only=True)
    try:
        parsed = AwsBaseline.model_validate(raw)
    except ValidationError as exc:
        raise translate(exc) from None
    return _build(parsed, parsed.Name, parsed.Description, "")


NO_DELAY_ON_AWS = ("DEBIAN", "UBUNTU")
"""Operating systems whose ApproveAfterDays AWS ignores (apt indices carry no dates)."""


@dataclass(frozen=True)
class AwsImport:
    """An imported AWS baseline and what to warn about (one line each)."""

    baseline: PatchBaseline
    warnings: tuple[str, ...] = ()


def generated_name(raw: Mapping[str, Any]) -> str:
    """``imported-<os>-<8 hex digits of the content's SHA-256>`` for a baseline without a
    Name (a BaselineOverride): the same content, however laid out, gets the same name."""
    system = raw.get("OperatingSystem")
    system = system.lower() if isinstance(system, str) and _OS_WORD.match(system) else "unknown"
    content = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"imported-{system}-{hashlib.sha256(content.encode()).hexdigest()[:8]}"


def import_aws_json(text: str, source: str, *, aws_strict: bool = False) -> AwsImport:
    """``patchwarden baseline import``: AWS JSON (``get-patch-baseline`` output, or a
    BaselineOverride, which has no Name) → a baseline; every error names ``source``.

    On Debian/Ubuntu AWS ignores ApproveAfterDays; Patchwarden applies it from first-seen
    dates (docs/release-dates.md) and warns, unless ``aws_strict`` drops the delay
    (ApproveAfterDays 0) as AWS does."""
    (raw,) = parse_text(text, source, json_only=True)
    if isinstance(raw, dict) and "Name" not in raw:
        raw = {**raw, "Name": generated_name(raw)}
    try:
        parsed = AwsBaseline.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"{source}: {translate(exc)}") from None
    warnings: list[str] = []
    if parsed.OperatingSystem.upper() in NO_DELAY_ON_AWS:
        rules = list(parsed.ApprovalRules.PatchRules)
        for index, rule in enumerate(rules):
            if not rule.ApproveAfterDays:
                continue
            if aws_strict:
                rules[index] = rule.model_copy(update={"ApproveAfterDays": 0})
                continue
            warnings.append(
                f"{source}: ApprovalRules.PatchRules[{index}].ApproveAfterDays "
                f"{rule.ApproveAfterDays}: AWS ignores ApproveAfterDays on Debian/Ubuntu; "
                "Patchwarden applies it from first-seen dates (docs/release-dates.md); "
                "--aws-strict imports it the AWS way (no delay)"
            )
        update = {"ApprovalRules": parsed.ApprovalRules.model_copy(update={"PatchRules": rules})}
        parsed = parsed.model_copy(update=update)
    try:
        baseline = _build(parsed, parsed.Name, parsed.Description, "")
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return AwsImport(baseline, tuple(warnings))


def to_document(baseline: PatchBaseline, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``PatchBaseline`` document of ``baseline`` (loading it gives ``baseline`` back)."""
    metadata: dict[str, Any] = {"name": baseline.name}
    if labels:
        metadata["labels"] = dict(labels)
    spec: dict[str, Any] = {"OperatingSystem": baseline.operating_system}
    if baseline.description is not None:
        spec["Description"] = baseline.description
    spec["GlobalFilters"] = {"PatchFilters": _filter_docs(baseline.global_filters)}
    spec["ApprovalRules"] = {"PatchRules": [_rule_doc(r) for r in baseline.approval_rules]}
    spec["ApprovedPatches"] = list(baseline.approved_patches)
    spec["ApprovedPatchesComplianceLevel"] = baseline.approved_patches_compliance_level.value
    spec["ApprovedPatchesEnableNonSecurity"] = baseline.approved_patches_enable_non_security
    spec["RejectedPatches"] = list(baseline.rejected_patches)
    spec["RejectedPatchesAction"] = baseline.rejected_patches_action.value
    spec["Sources"] = [
        {"Name": s.name, "Products": list(s.products), "Configuration": s.configuration}
        for s in baseline.sources
    ]
    if baseline.security_updates is not SecurityUpdates.AS_APPROVED:
        spec["Patchwarden"] = {"SecurityUpdates": baseline.security_updates.value}
    return {"apiVersion": API_VERSION, "kind": "PatchBaseline", "metadata": metadata, "spec": spec}


def _filter_docs(filters: tuple[PatchFilter, ...]) -> list[dict[str, Any]]:
    return [{"Key": f.key, "Values": list(f.values)} for f in filters]


def _rule_doc(rule: PatchRule) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "PatchFilterGroup": {"PatchFilters": _filter_docs(rule.filters)},
        "ComplianceLevel": rule.compliance_level.value,
    }
    if rule.approve_after_days is not None:
        doc["ApproveAfterDays"] = rule.approve_after_days
    if rule.approve_until_date is not None:
        doc["ApproveUntilDate"] = rule.approve_until_date.isoformat()
    doc["EnableNonSecurity"] = rule.enable_non_security
    return doc
