"""``Suppression`` documents: Inspector-like suppression rules for vulnerability findings.

::

    apiVersion: patchwarden/v1
    kind: Suppression
    metadata:
      name: accept-openssl-timing
    spec:
      Reason: not reachable on these hosts; re-check at the next release
      VulnerabilityIds: ["CVE-2024-13176", "GHSA-*"]   # globs, id or alias
      Packages: ["openssl", "libssl*"]                   # binary or source name globs
      Nodes: ["web-*"]                                   # hostname / root / node id globs
      NodeTags: {Env: prod}                              # on the server: node tags (value globs)
      ExpiresAt: 2026-06-30                              # date (00:00 UTC) or date-time

Every criterion given must match (AND); any glob of one criterion may (OR).  At least one
criterion and a non-empty ``Reason`` are required; ``metadata.name`` is 3 to 64 characters
(Inspector's filter names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import ClassVar

from pydantic import Field, ValidationError, field_validator

from patchwarden.core.suppression import Suppression
from patchwarden.documents.envelope import Metadata, StrictModel, translate
from patchwarden.errors import InputError


class SuppressionSpec(StrictModel):
    """``spec`` of a ``Suppression`` document."""

    Reason: str
    VulnerabilityIds: list[str] = Field(default_factory=list)
    Packages: list[str] = Field(default_factory=list)
    Nodes: list[str] = Field(default_factory=list)
    NodeTags: dict[str, str] = Field(default_factory=dict)
    ExpiresAt: str | None = None

    @field_validator("ExpiresAt", mode="before")
    @classmethod
    def _when(cls, value: object) -> object:
        # YAML reads an unquoted 2026-06-30 as a date and 2026-06-30T12:00:00Z as a datetime.
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value


def expiry(text: str) -> datetime:
    """``2026-06-30`` → 00:00 UTC that day; a date-time without zone is UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"spec.ExpiresAt: {text!r} is not a date (YYYY-MM-DD) or ISO 8601 date-time"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SuppressionDocument:
    """A loaded ``Suppression`` document."""

    suppression: Suppression
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    kind: ClassVar[str] = "Suppression"

    @property
    def name(self) -> str:
        """``metadata.name``, the rule's name."""
        return self.suppression.name


def suppression_from_spec(metadata: Metadata, spec: object) -> Suppression:
    """The core rule of a document's ``metadata`` and ``spec``."""
    if not 3 <= len(metadata.name) <= 64:
        raise InputError(f"metadata.name: must be 3 to 64 characters, got {metadata.name!r}")
    try:
        parsed = SuppressionSpec.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    for key in ("VulnerabilityIds", "Packages", "Nodes"):
        if any(not v.strip() for v in getattr(parsed, key)):
            raise InputError(f"spec.{key}: entries must not be empty")
    if not parsed.Reason.strip():
        raise InputError("spec.Reason: must say why the findings are suppressed")
    if any(not k.strip() or not v.strip() for k, v in parsed.NodeTags.items()):
        raise InputError("spec.NodeTags: keys and values must not be empty")
    if not (parsed.VulnerabilityIds or parsed.Packages or parsed.Nodes or parsed.NodeTags):
        raise InputError("spec: give at least one of VulnerabilityIds, Packages, Nodes, NodeTags")
    return Suppression(
        name=metadata.name,
        reason=parsed.Reason.strip(),
        vulnerability_ids=tuple(v.strip() for v in parsed.VulnerabilityIds),
        packages=tuple(v.strip() for v in parsed.Packages),
        nodes=tuple(v.strip() for v in parsed.Nodes),
        node_tags=tuple(sorted((k.strip(), v.strip()) for k, v in parsed.NodeTags.items())),
        expires_at=expiry(parsed.ExpiresAt) if parsed.ExpiresAt else None,
    )


def load_suppression_document(metadata: Metadata, spec: object, source: str) -> SuppressionDocument:
    """The registry entry for ``kind: Suppression``."""
    return SuppressionDocument(suppression_from_spec(metadata, spec), dict(metadata.labels), source)
