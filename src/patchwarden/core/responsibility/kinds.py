"""The shared-responsibility matrix as data: per resource kind, who patches each layer
(the operating system, the runtime or engine, the application), what that owner does, and
which rule types judge the layer.

Imported resources carry JSON ``attributes``; the keys each AWS type carries are the
importer's contract (times are ISO 8601 strings, counts integers):

- ``AWS::EC2::Instance``: ``instance_id``, ``image_id``, ``state``, ``platform``,
  ``patch_group``, ``ssm_managed``, ``ping_status``, ``patch`` {``missing``, ``failed``,
  ``installed``, ``installed_other``, ``installed_pending_reboot``, ``installed_rejected``,
  ``not_applicable``, ``operation``, ``operation_end_time``, ``baseline_id``} (absent when
  SSM holds no patch state).
- ``AWS::EC2::Image`` (an AMI some instance runs): ``image_id``, ``creation_date``,
  ``deprecation_time``, ``instances`` [ids].
- ``AWS::RDS::DBInstance``: ``engine``, ``engine_version``, ``auto_minor_version_upgrade``,
  ``preferred_maintenance_window``, ``status``, ``upgrade_targets`` [{``version``,
  ``major``}] (newer versions, oldest first), ``pending_maintenance`` [{``action``,
  ``description``, ``auto_applied_after``, ``forced_apply``, ``current_apply``,
  ``opt_in_status``, ``first_seen``}] (``first_seen`` is kept by Patchwarden).
- ``AWS::Lambda::Function``: ``runtime``, ``package_type`` (Zip | Image), ``last_modified``,
  ``architectures``.
- ``AWS::ECS::Service``: ``cluster``, ``launch_type`` (FARGATE | EC2 | EXTERNAL),
  ``images`` [{``image``, ``digest``, ``findings`` {severity: count} (absent: not
  scanned), ``scan_completed``}].
- ``AWS::EKS::Nodegroup``: ``cluster``, ``cluster_version``, ``version``,
  ``release_version``, ``ami_type``, ``health_issues`` [codes].

Patchwarden's own resources are its nodes (``Node``) and its golden images (``Image``:
``findings`` {severity: count}, ``stale``, ``stale_reasons``, ``created``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from patchwarden.core.rules.resources import (
    EC2_IMAGE,
    EC2_INSTANCE,
    ECS_SERVICE,
    EKS_NODEGROUP,
    IMAGE,
    LAMBDA_FUNCTION,
    RDS_INSTANCE,
)

NODE = "Node"


class Layer(StrEnum):
    """What gets patched."""

    OS = "os"
    RUNTIME = "runtime"
    APPLICATION = "application"


class Owner(StrEnum):
    """Who patches it."""

    CUSTOMER = "customer"
    PROVIDER = "provider"
    SHARED = "shared"


@dataclass(frozen=True)
class Duty:
    """One layer of one kind: its owner, what the owner does, the rule types judging it."""

    owner: Owner
    what: str
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceKind:
    """A row of the matrix."""

    name: str
    title: str
    resource_types: tuple[str, ...]
    layers: Mapping[Layer, Duty]
    runtime_label: str = "runtime"
    """What the runtime layer is called for this kind (engine, runtime, kubelet…)."""


C, P, S = Owner.CUSTOMER, Owner.PROVIDER, Owner.SHARED

KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(
        "host",
        "Self-managed host",
        (NODE, EC2_INSTANCE),
        {
            Layer.OS: Duty(
                C,
                "patch the OS packages against a baseline, in maintenance windows",
                (
                    "patch-compliance-status",
                    "missing-patch-age",
                    "os-supported",
                    "ec2-patch-compliance",
                ),
            ),
            Layer.RUNTIME: Duty(
                C,
                "update language runtimes and libraries installed as packages",
                ("no-active-findings", "no-known-exploited-findings"),
            ),
            Layer.APPLICATION: Duty(C, "update your code and its dependencies"),
        },
    ),
    ResourceKind(
        "image",
        "Golden image",
        (IMAGE, EC2_IMAGE),
        {
            Layer.OS: Duty(
                C,
                "rebuild with patches baked in, scan, gate, roll out",
                ("image-findings", "image-not-stale", "ami-age"),
            ),
            Layer.RUNTIME: Duty(C, "rebuild when the runtime in the image is updated"),
            Layer.APPLICATION: Duty(C, "rebuild when your code changes"),
        },
    ),
    ResourceKind(
        "container-workload",
        "Container workload",
        (ECS_SERVICE,),
        {
            Layer.OS: Duty(
                S, "the provider patches Fargate hosts; you patch EC2 container instances"
            ),
            Layer.RUNTIME: Duty(
                C,
                "rebuild base images and redeploy when they have findings",
                ("container-image-findings",),
            ),
            Layer.APPLICATION: Duty(C, "update your code and its dependencies"),
        },
        runtime_label="base image",
    ),
    ResourceKind(
        "managed-database",
        "Managed database",
        (RDS_INSTANCE,),
        {
            Layer.OS: Duty(
                P,
                "the provider patches the OS in your maintenance window; do not defer it",
                ("rds-pending-maintenance-age",),
            ),
            Layer.RUNTIME: Duty(
                S,
                "you choose the engine version; minor upgrades apply if auto-upgrade is on",
                ("rds-engine-version-current",),
            ),
            Layer.APPLICATION: Duty(C, "schema, parameters and data are yours"),
        },
        runtime_label="engine",
    ),
    ResourceKind(
        "serverless-function",
        "Serverless function",
        (LAMBDA_FUNCTION,),
        {
            Layer.OS: Duty(P, "the provider patches the execution environment"),
            Layer.RUNTIME: Duty(
                S,
                "the provider patches the runtime; you move off it before deprecation",
                ("lambda-runtime-supported",),
            ),
            Layer.APPLICATION: Duty(C, "update your code, layers and dependencies"),
        },
    ),
    ResourceKind(
        "kubernetes-node-group",
        "Managed Kubernetes node group",
        (EKS_NODEGROUP,),
        {
            Layer.OS: Duty(
                S,
                "the provider publishes patched node images; you roll the node group",
                ("eks-nodegroup-release-age",),
            ),
            Layer.RUNTIME: Duty(
                C,
                "upgrade the nodes to the control plane's Kubernetes version",
                ("eks-nodegroup-current",),
            ),
            Layer.APPLICATION: Duty(C, "rebuild and redeploy your pods' images"),
        },
        runtime_label="kubelet",
    ),
)
"""The matrix, in report order."""

BY_NAME: dict[str, ResourceKind] = {kind.name: kind for kind in KINDS}
BY_TYPE: dict[str, ResourceKind] = {t: kind for kind in KINDS for t in kind.resource_types}
"""resource type → its kind."""


def owner(kind: ResourceKind, layer: Layer, attributes: Mapping[str, object]) -> Owner:
    """The owner of ``layer`` for one resource: the kind's, except where the resource
    settles a shared layer (a Fargate service's hosts are the provider's, an EC2-backed
    one's the customer's)."""
    duty = kind.layers[layer]
    if kind.name == "container-workload" and layer is Layer.OS:
        launch = attributes.get("launch_type")
        if launch == "FARGATE":
            return Owner.PROVIDER
        if launch in ("EC2", "EXTERNAL"):
            return Owner.CUSTOMER
    return duty.owner
