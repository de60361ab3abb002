"""The values rule evaluation works on (reference §8.1), all frozen and I/O free.

- :class:`NodeSnapshot` — what the server knows about one node at evaluation time.
- :class:`ResourceSnapshot` — a resource Patchwarden does not manage but imports (an AWS
  RDS instance, a Lambda function…): its type, tags and attributes.
- :class:`Evaluation` — one rule's verdict on one resource, with an annotation.
- :class:`RuleType` — a registered rule type: a parameter schema and a pure ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from patchwarden.core.rules.params import ParamSpec


class ComplianceType(StrEnum):
    """AWS Config ``ComplianceType``.  INSUFFICIENT_DATA is also what a rule returns when the
    data it needs does not exist (yet)."""

    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


ANNOTATION_MAX = 256


@dataclass(frozen=True)
class Evaluation:
    """One verdict; the annotation is cut to 256 characters as Config does."""

    compliance: ComplianceType
    annotation: str = ""

    def __post_init__(self) -> None:
        if len(self.annotation) > ANNOTATION_MAX:
            object.__setattr__(self, "annotation", self.annotation[: ANNOTATION_MAX - 1] + "…")


@dataclass(frozen=True)
class PatchFact:
    """One line of the node's latest patch compliance report."""

    name: str
    state: str
    """A :class:`~patchwarden.core.model.PatchState` value."""
    severity: str = "UNSPECIFIED"
    """A :class:`~patchwarden.core.model.ComplianceLevel` value."""
    classification: str = ""
    release_date: datetime | None = None


@dataclass(frozen=True)
class FindingFact:
    """One vulnerability finding of the node."""

    vulnerability_id: str
    severity: str
    """A :class:`~patchwarden.core.vuln.Severity` value."""
    status: str = "ACTIVE"
    fix_available: str = "YES"
    fix_since: datetime | None = None
    """Since when a fix exists (first observed with a fix, or the advisory's date)."""
    known_exploited: bool = False
    """In CISA's Known Exploited Vulnerabilities catalogue."""
    first_observed: datetime | None = None


@dataclass(frozen=True)
class NodeSnapshot:
    """What the server knows about a managed node (``resource_type`` ``Node``).

    ``None`` / empty values mean "not known": rules that need them answer INSUFFICIENT_DATA.
    ``findings`` is ``None`` when the server has no finding data for the node at all.
    """

    node_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    os_id: str = ""
    os_version: str = ""
    product: str = ""
    patch_group: str = ""
    last_seen: datetime | None = None
    compliance: str | None = None
    """Latest patch compliance rollup (COMPLIANT / NON_COMPLIANT), ``None`` before any report."""
    items: tuple[PatchFact, ...] = ()
    findings: tuple[FindingFact, ...] | None = None
    baseline_name: str = ""
    baseline_is_default: bool = True
    resource_type: str = "Node"
    name: str = ""
    """The node's name (its registration name or hostname), for people reading results."""


@dataclass(frozen=True)
class ResourceSnapshot:
    """An imported resource as the rules see it (``resource_type`` as AWS Config names it,
    e.g. ``AWS::RDS::DBInstance``).

    ``attributes`` hold JSON values; which keys a type carries is the importer's contract,
    written in :mod:`patchwarden.core.responsibility.kinds`.  ``first_seen`` is when
    Patchwarden first imported it; ``observed_at`` when the import that carried these
    attributes ran.
    """

    resource_id: str
    resource_type: str
    name: str = ""
    source: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, object] = field(default_factory=dict)
    first_seen: datetime | None = None
    observed_at: datetime | None = None


Evaluator = Callable[[NodeSnapshot, Mapping[str, object], datetime], Evaluation]
ResourceEvaluator = Callable[[ResourceSnapshot, Mapping[str, object], datetime], Evaluation]


def not_a_node(node: NodeSnapshot, params: Mapping[str, object], now: datetime) -> Evaluation:
    """The node evaluator of a rule type that judges imported resources only."""
    return Evaluation(ComplianceType.NOT_APPLICABLE, "this rule judges imported resources")


@dataclass(frozen=True)
class RuleType:
    """A registered rule type: its identifier, parameter schema and pure evaluator.

    Custom rule types (entry point group ``patchwarden.rules``) provide the same contract.
    """

    identifier: str
    description: str
    parameters: tuple[ParamSpec, ...]
    evaluate: Evaluator
    resource_types: tuple[str, ...] = ("Node",)
    evaluate_resource: ResourceEvaluator | None = None
    """The evaluator of imported resources (types other than ``Node``)."""
