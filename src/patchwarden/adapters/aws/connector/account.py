"""One import of an account and region: the chosen services' resources as one snapshot
(source ``aws:ACCOUNT:REGION``); a service AWS refuses is a warning, the others import."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import Resource
from patchwarden.adapters.aws.connector.ec2 import import_ec2
from patchwarden.adapters.aws.connector.ecs import import_ecs
from patchwarden.adapters.aws.connector.eks import import_eks
from patchwarden.adapters.aws.connector.functions import import_lambda
from patchwarden.adapters.aws.connector.rds import import_rds
from patchwarden.adapters.aws.connector.session import AccessDenied, Clients
from patchwarden.errors import InputError

Importer = Callable[[Any, datetime], list[Resource]]
SERVICES: dict[str, Importer] = {
    "ec2": import_ec2,
    "rds": import_rds,
    "lambda": import_lambda,
    "ecs": import_ecs,
    "eks": import_eks,
}
"""Service name (``--services``) → its importer, in import order."""
TYPES: dict[str, tuple[str, ...]] = {
    "ec2": ("AWS::EC2::Instance", "AWS::EC2::Image"),
    "rds": ("AWS::RDS::DBInstance",),
    "lambda": ("AWS::Lambda::Function",),
    "ecs": ("AWS::ECS::Service",),
    "eks": ("AWS::EKS::Nodegroup",),
}
"""Service name → the resource types its importer yields."""


@dataclass(frozen=True)
class Snapshot:
    """What one import found."""

    source: str
    resources: list[Resource]
    warnings: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """The services AWS refused (their resources are missing from ``resources``)."""
    resource_types: list[str] = field(default_factory=list)
    """The resource types this snapshot covers (those of the services that were read):
    the server replaces only these, so a refused service's resources stay as they were."""


def parse_services(text: str | None) -> list[str]:
    """``ec2,rds`` → the services, in import order (None or empty: all)."""
    if not text or not text.strip():
        return list(SERVICES)
    wanted = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SERVICES]
    if unknown:
        raise InputError(
            f"--services: unknown service(s) {', '.join(unknown)} (known: {', '.join(SERVICES)})"
        )
    return [s for s in SERVICES if s in wanted]


def import_account(clients: Clients, services: Sequence[str], now: datetime) -> Snapshot:
    """Run the importers of ``services`` against ``clients``' account and region."""
    source = f"aws:{clients.account}:{clients.region}"
    resources: list[Resource] = []
    warnings: list[str] = []
    failed: list[str] = []
    covered: list[str] = []
    for service in services:
        try:
            found = SERVICES[service](clients, now)
        except AccessDenied as exc:
            warnings.append(f"{service}: not imported: {exc}")
            failed.append(service)
            continue
        resources.extend(found)
        covered.extend(TYPES[service])
        warnings.extend(clients.warnings)
        clients.warnings.clear()
    return Snapshot(source, resources, warnings, failed, covered)
