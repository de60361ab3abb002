"""EKS managed node groups: their Kubernetes version against the cluster's, the node
image release, health issues.

Calls: eks ListClusters, DescribeCluster, ListNodegroups, DescribeNodegroup.  Pod images
need the Kubernetes API and are not imported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import Resource, call, pages, resource, tag_map
from patchwarden.core.rules.resources import EKS_NODEGROUP


def import_eks(clients: Any, now: datetime) -> list[Resource]:
    """The region's managed node groups (``AWS::EKS::Nodegroup``)."""
    eks = clients("eks")
    out = []
    for cluster in pages(eks, "eks", "list_clusters", "clusters"):
        described = call(eks, "eks", "describe_cluster", name=cluster)["cluster"]
        cluster_version = described.get("version")
        for name in pages(eks, "eks", "list_nodegroups", "nodegroups", clusterName=cluster):
            group = call(eks, "eks", "describe_nodegroup", clusterName=cluster, nodegroupName=name)
            group = group["nodegroup"]
            issues = group.get("health", {}).get("issues", [])
            attributes = {
                "cluster": cluster,
                "cluster_version": cluster_version,
                "version": group.get("version"),
                "release_version": group.get("releaseVersion"),
                "ami_type": group.get("amiType"),
                "health_issues": sorted({str(i.get("code")) for i in issues if i.get("code")}),
            }
            arn = str(group["nodegroupArn"])
            out.append(resource(arn, EKS_NODEGROUP, name, tag_map(group.get("tags")), attributes))
    return out
