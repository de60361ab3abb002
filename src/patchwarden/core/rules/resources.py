"""The managed rule types that judge imported resources: pure evaluators over a
:class:`ResourceSnapshot` whose attributes follow the contract of
:mod:`patchwarden.core.responsibility.kinds` (JSON values; times as ISO 8601 strings)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

from patchwarden.core.rules.lambda_runtimes import DEPRECATION
from patchwarden.core.rules.model import (
    ComplianceType,
    Evaluation,
    ResourceSnapshot,
    RuleType,
    not_a_node,
)
from patchwarden.core.rules.params import ParamSpec
from patchwarden.core.vuln import Severity

C, NC = ComplianceType.COMPLIANT, ComplianceType.NON_COMPLIANT
NA, NODATA = ComplianceType.NOT_APPLICABLE, ComplianceType.INSUFFICIENT_DATA
_SEVERITIES = tuple(s.value for s in Severity if s is not Severity.UNTRIAGED)

EC2_INSTANCE = "AWS::EC2::Instance"
EC2_IMAGE = "AWS::EC2::Image"
RDS_INSTANCE = "AWS::RDS::DBInstance"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
ECS_SERVICE = "AWS::ECS::Service"
EKS_NODEGROUP = "AWS::EKS::Nodegroup"
IMAGE = "Image"
AWS_TYPES = (EC2_INSTANCE, EC2_IMAGE, RDS_INSTANCE, LAMBDA_FUNCTION, ECS_SERVICE, EKS_NODEGROUP)
"""The resource types an import may carry (AWS Config's names)."""
_RELEASE_DATE = re.compile(r"-(\d{8})$")


def when(value: object) -> datetime | None:
    """An attribute's ISO 8601 time (naive ones are UTC), ``None`` when absent or not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(params: Mapping[str, object], name: str) -> int:
    return cast(int, params[name])


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _map(value: object) -> Mapping[str, object]:
    return cast(Mapping[str, object], value) if isinstance(value, Mapping) else {}


def ec2_patch_compliance(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """SSM's patch state of the instance: nothing missing or failed (and, unless
    ``AllowPendingReboot``, nothing waiting for a reboot), as SSM's Patch compliance
    counts it.  INSUFFICIENT_DATA when SSM holds no patch state."""
    patch = _map(res.attributes.get("patch"))
    if not patch:
        return Evaluation(NODATA, "SSM holds no patch state for this instance")
    missing, failed = _count(patch.get("missing")), _count(patch.get("failed"))
    pending = _count(patch.get("installed_pending_reboot"))
    rejected = _count(patch.get("installed_rejected"))
    problems = [
        f"{n} {what}"
        for n, what in (
            (missing, "missing"),
            (failed, "failed"),
            (rejected, "installed but rejected"),
            (0 if params["AllowPendingReboot"] else pending, "pending reboot"),
        )
        if n
    ]
    scanned = patch.get("operation_end_time") or "unknown time"
    if problems:
        return Evaluation(NC, f"{', '.join(problems)} (last {patch.get('operation')} {scanned})")
    return Evaluation(C, f"no patch missing or failed (last {patch.get('operation')} {scanned})")


def lambda_runtime_supported(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The function's runtime is not deprecated, nor deprecated within
    ``DaysBeforeDeprecation`` days (AWS's dates as data); container-image functions bring
    their own runtime and are NOT_APPLICABLE."""
    if res.attributes.get("package_type") == "Image":
        return Evaluation(NA, "a container image function: its image carries the runtime")
    runtime = res.attributes.get("runtime")
    if not isinstance(runtime, str) or not runtime:
        return Evaluation(NODATA, "runtime not known")
    deprecated = DEPRECATION.get(runtime)
    if deprecated is None:
        return Evaluation(NODATA, f"{runtime}: no deprecation date known")
    today = now.date()
    if today >= deprecated:
        return Evaluation(NC, f"{runtime} deprecated since {deprecated.isoformat()}")
    warn = timedelta(days=_int(params, "DaysBeforeDeprecation"))
    if today + warn >= deprecated:
        return Evaluation(NC, f"{runtime} is deprecated on {deprecated.isoformat()}")
    return Evaluation(C, f"{runtime} supported until {deprecated.isoformat()}")


def rds_engine_version_current(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The engine is at most ``MaxMinorVersionsBehind`` minor versions behind: the newer
    minor versions RDS offers as upgrade targets of the current one are counted."""
    engine, version = res.attributes.get("engine"), res.attributes.get("engine_version")
    if not isinstance(version, str) or "upgrade_targets" not in res.attributes:
        return Evaluation(NODATA, "engine version or its upgrade targets not known")
    minors = [
        str(_map(t).get("version"))
        for t in _list(res.attributes.get("upgrade_targets"))
        if not _map(t).get("major")
    ]
    limit = _int(params, "MaxMinorVersionsBehind")
    if len(minors) > limit:
        newest = minors[-1]
        return Evaluation(
            NC, f"{engine} {version} is {len(minors)} minor version(s) behind (newest {newest})"
        )
    return Evaluation(C, f"{engine} {version}: {len(minors)} newer minor version(s)")


def rds_pending_maintenance_age(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """No provider maintenance action pending for more than ``MaxDaysPending`` days (since
    Patchwarden first saw it), nor past the date AWS would apply it on its own."""
    if "pending_maintenance" not in res.attributes:
        return Evaluation(NODATA, "pending maintenance not known")
    pending = [_map(a) for a in _list(res.attributes.get("pending_maintenance"))]
    if not pending:
        return Evaluation(C, "no pending maintenance")
    limit = timedelta(days=_int(params, "MaxDaysPending"))
    late = []
    for action in pending:
        seen = when(action.get("first_seen"))
        forced = when(action.get("forced_apply")) or when(action.get("auto_applied_after"))
        if (seen is not None and now - seen > limit) or (forced is not None and forced <= now):
            late.append(str(action.get("action", "?")))
    if late:
        return Evaluation(
            NC, f"{len(late)} maintenance action(s) pending too long: {', '.join(sorted(late))}"
        )
    actions = ", ".join(sorted(str(a.get("action", "?")) for a in pending))
    return Evaluation(C, f"pending within {limit.days} days: {actions}")


def _at_least(findings: Mapping[str, object], minimum: str) -> int:
    """How many of ``findings`` ({severity: count}) are at or above ``minimum``."""
    rank = Severity(minimum).rank
    return sum(
        _count(n)
        for severity, n in findings.items()
        if severity in Severity.__members__ and Severity(severity).rank >= rank
    )


def container_image_findings(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """No image the workload runs has a scan finding at or above ``MinimumSeverity``
    (ECR's scan counts); an image never scanned is INSUFFICIENT_DATA."""
    images = [_map(i) for i in _list(res.attributes.get("images"))]
    if not images:
        return Evaluation(NODATA, "no container image known")
    bad, unscanned = [], []
    for image in images:
        findings = image.get("findings")
        if not isinstance(findings, Mapping):
            unscanned.append(str(image.get("image")))
            continue
        at_least = _at_least(findings, str(params["MinimumSeverity"]))
        if at_least:
            bad.append(f"{image.get('image')} ({at_least})")
    if bad:
        return Evaluation(NC, f"findings ≥ {params['MinimumSeverity']}: {', '.join(bad)}")
    if unscanned:
        return Evaluation(NODATA, f"not scanned: {', '.join(unscanned)}")
    return Evaluation(C, f"{len(images)} image(s) without findings ≥ {params['MinimumSeverity']}")


def eks_nodegroup_current(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The node group runs its cluster's Kubernetes version and reports no health issue."""
    version, cluster = res.attributes.get("version"), res.attributes.get("cluster_version")
    if not isinstance(version, str) or not isinstance(cluster, str):
        return Evaluation(NODATA, "node group or cluster version not known")
    issues = [str(i) for i in _list(res.attributes.get("health_issues"))]
    if version != cluster:
        return Evaluation(NC, f"nodes on Kubernetes {version}, the control plane on {cluster}")
    if issues:
        return Evaluation(NC, f"health issue(s): {', '.join(sorted(issues))}")
    release = res.attributes.get("release_version") or "unknown release"
    return Evaluation(C, f"Kubernetes {version} as the cluster ({release})")


def eks_nodegroup_release_age(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The node group's AMI release (``1.29.0-20240129``: built that day) is at most
    ``MaxAgeDays`` old; releases without a date (Bottlerocket's) are INSUFFICIENT_DATA."""
    release = res.attributes.get("release_version")
    match = _RELEASE_DATE.search(release) if isinstance(release, str) else None
    if match is None:
        return Evaluation(NODATA, f"no build date in the release version {release!r}")
    try:
        built = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return Evaluation(NODATA, f"no build date in the release version {release!r}")
    days, limit = (now - built).days, _int(params, "MaxAgeDays")
    if days > limit:
        return Evaluation(NC, f"node image {release} is {days} days old (> {limit})")
    return Evaluation(C, f"node image {release} is {days} days old")


def image_findings(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The golden image's scan has no finding at or above ``MinimumSeverity``."""
    findings = res.attributes.get("findings")
    if not isinstance(findings, Mapping):
        return Evaluation(NODATA, "the image was not scanned")
    minimum = str(params["MinimumSeverity"])
    count = _at_least(findings, minimum)
    if count:
        return Evaluation(NC, f"{count} finding(s) ≥ {minimum}")
    return Evaluation(C, f"no finding ≥ {minimum}")


def image_not_stale(
    res: ResourceSnapshot, params: Mapping[str, object], now: datetime
) -> Evaluation:
    """The golden image is not stale (a newer parent, package or fix exists)."""
    if "stale" not in res.attributes:
        return Evaluation(NODATA, "staleness not judged")
    reasons = [str(r) for r in _list(res.attributes.get("stale_reasons"))]
    if res.attributes.get("stale"):
        return Evaluation(NC, "stale: " + ("; ".join(reasons) or "rebuild it"))
    return Evaluation(C, "up to date with its parent, mirrors and fixes")


def ami_age(res: ResourceSnapshot, params: Mapping[str, object], now: datetime) -> Evaluation:
    """An AMI in use was built at most ``MaxAgeDays`` days ago and is not deprecated: an
    older one misses the patches released since."""
    created = when(res.attributes.get("creation_date"))
    if created is None:
        return Evaluation(NODATA, "creation date not known")
    deprecated = when(res.attributes.get("deprecation_time"))
    if deprecated is not None and deprecated <= now:
        return Evaluation(NC, f"deprecated since {deprecated.date().isoformat()}")
    days = (now - created).days
    limit = _int(params, "MaxAgeDays")
    if days > limit:
        return Evaluation(NC, f"built {days} days ago (> {limit})")
    return Evaluation(C, f"built {days} days ago")


RESOURCE_RULES: tuple[RuleType, ...] = (
    RuleType(
        "ec2-patch-compliance",
        "SSM patch state: nothing missing or failed",
        (ParamSpec("AllowPendingReboot", "Boolean", default=False),),
        not_a_node,
        (EC2_INSTANCE,),
        ec2_patch_compliance,
    ),
    RuleType(
        "ami-age",
        "AMIs in use are recent and not deprecated",
        (ParamSpec("MaxAgeDays", "Integer", default=90, minimum=1),),
        not_a_node,
        (EC2_IMAGE,),
        ami_age,
    ),
    RuleType(
        "rds-engine-version-current",
        "the database engine is not behind by more than N minor versions",
        (ParamSpec("MaxMinorVersionsBehind", "Integer", default=1, minimum=0),),
        not_a_node,
        (RDS_INSTANCE,),
        rds_engine_version_current,
    ),
    RuleType(
        "rds-pending-maintenance-age",
        "provider maintenance is not left pending",
        (ParamSpec("MaxDaysPending", "Integer", default=30, minimum=0),),
        not_a_node,
        (RDS_INSTANCE,),
        rds_pending_maintenance_age,
    ),
    RuleType(
        "lambda-runtime-supported",
        "the function's runtime is not (about to be) deprecated",
        (ParamSpec("DaysBeforeDeprecation", "Integer", default=90, minimum=0),),
        not_a_node,
        (LAMBDA_FUNCTION,),
        lambda_runtime_supported,
    ),
    RuleType(
        "container-image-findings",
        "the images a service runs have no finding at or above a severity",
        (ParamSpec("MinimumSeverity", default="HIGH", allowed=_SEVERITIES),),
        not_a_node,
        (ECS_SERVICE,),
        container_image_findings,
    ),
    RuleType(
        "eks-nodegroup-release-age",
        "a managed node group's node image is recent",
        (ParamSpec("MaxAgeDays", "Integer", default=60, minimum=1),),
        not_a_node,
        (EKS_NODEGROUP,),
        eks_nodegroup_release_age,
    ),
    RuleType(
        "image-findings",
        "a golden image has no finding at or above a severity",
        (ParamSpec("MinimumSeverity", default="HIGH", allowed=_SEVERITIES),),
        not_a_node,
        (IMAGE,),
        image_findings,
    ),
    RuleType(
        "image-not-stale",
        "a golden image is not stale",
        (),
        not_a_node,
        (IMAGE,),
        image_not_stale,
    ),
    RuleType(
        "eks-nodegroup-current",
        "a managed node group runs its cluster's version, healthy",
        (),
        not_a_node,
        (EKS_NODEGROUP,),
        eks_nodegroup_current,
    ),
)
