"""ECS services: launch type, and the container images of their task definitions with
ECR's scan findings.

Calls: ecs ListClusters, ListServices, DescribeServices, DescribeTaskDefinition;
ecr DescribeImageScanFindings (images in an ECR repository of the connector's region).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import (
    Resource,
    call,
    chunks,
    iso,
    pages,
    resource,
    tag_map,
)
from patchwarden.adapters.aws.connector.session import aws_errors
from patchwarden.core.rules.resources import ECS_SERVICE

ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
SCANNED = ("COMPLETE", "ACTIVE")
"""Scan statuses with findings: basic scanning's COMPLETE, enhanced (continuous) ACTIVE."""
NOT_SCANNED = ("ScanNotFoundException", "ImageNotFoundException", "RepositoryNotFoundException")


def launch_type(service: dict[str, Any]) -> str:
    """FARGATE | EC2 | EXTERNAL: the service's, or FARGATE when a Fargate capacity
    provider is in its strategy (EC2 otherwise, ECS's default)."""
    if service.get("launchType"):
        return str(service["launchType"])
    providers = [
        str(p.get("capacityProvider")) for p in service.get("capacityProviderStrategy", [])
    ]
    return "FARGATE" if any(p.startswith("FARGATE") for p in providers) else "EC2"


def _scan(ecr: Any, match: re.Match[str]) -> dict[str, Any]:
    """ECR's scan of one image: ``findings`` {severity: count} and ``scan_completed``, or
    nothing when the image was never scanned (or is gone)."""
    from botocore.exceptions import ClientError

    image_id = {"imageDigest": match["digest"]} if match["digest"] else {}
    if not image_id:
        image_id = {"imageTag": match["tag"] or "latest"}
    with aws_errors("ecr"):
        try:
            found = ecr.describe_image_scan_findings(
                registryId=match["registry"],
                repositoryName=match["repository"],
                imageId=image_id,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in NOT_SCANNED:
                raise
            return {"digest": match["digest"]}
    out: dict[str, Any] = {"digest": found.get("imageId", {}).get("imageDigest") or match["digest"]}
    if found.get("imageScanStatus", {}).get("status") not in SCANNED:
        return out
    scan = found.get("imageScanFindings", {})
    counts = scan.get("findingSeverityCounts")
    if counts is None:  # counted from the first page of findings (basic or enhanced)
        counts = {}
        for finding in [*scan.get("findings", []), *scan.get("enhancedFindings", [])]:
            severity = str(finding.get("severity", "UNDEFINED"))
            counts[severity] = counts.get(severity, 0) + 1
    out["findings"] = {str(k): int(v) for k, v in counts.items()}
    out["scan_completed"] = iso(scan.get("imageScanCompletedAt"))
    return out


def _images(clients: Any, task_definition: str, scans: dict[str, dict[str, Any]]) -> list[Any]:
    described = call(
        clients("ecs"), "ecs", "describe_task_definition", taskDefinition=task_definition
    )["taskDefinition"]
    out = []
    for container in described.get("containerDefinitions", []):
        image = str(container.get("image", ""))
        if image not in scans:
            match = ECR_IMAGE.match(image)
            scan: dict[str, Any] = {}
            if match and match["region"] == clients.region:
                scan = _scan(clients("ecr"), match)
            elif "@sha256:" in image:
                scan = {"digest": image.rsplit("@", 1)[1]}
            scans[image] = scan
        scan = scans[image]
        entry: dict[str, Any] = {"image": image, "digest": scan.get("digest")}
        if "findings" in scan:
            entry["findings"] = scan["findings"]
        entry["scan_completed"] = scan.get("scan_completed")
        out.append(entry)
    return out


def import_ecs(clients: Any, now: datetime) -> list[Resource]:
    """The region's services (``AWS::ECS::Service``)."""
    ecs = clients("ecs")
    definitions: dict[str, list[Any]] = {}
    scans: dict[str, dict[str, Any]] = {}
    out = []
    for cluster in pages(ecs, "ecs", "list_clusters", "clusterArns"):
        arns = list(pages(ecs, "ecs", "list_services", "serviceArns", cluster=cluster))
        for chunk in chunks(arns, 10):
            described = call(
                ecs, "ecs", "describe_services", cluster=cluster, services=chunk, include=["TAGS"]
            )
            for service in described.get("services", []):
                definition = str(service.get("taskDefinition", ""))
                if definition and definition not in definitions:
                    definitions[definition] = _images(clients, definition, scans)
                attributes = {
                    "cluster": cluster.rsplit("/", 1)[-1],
                    "launch_type": launch_type(service),
                    "images": definitions.get(definition, []),
                }
                arn = str(service["serviceArn"])
                name = str(service.get("serviceName") or arn)
                out.append(
                    resource(arn, ECS_SERVICE, name, tag_map(service.get("tags")), attributes)
                )
    return out
