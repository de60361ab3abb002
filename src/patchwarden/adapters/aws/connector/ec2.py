"""EC2 instances with their SSM patch state, and the AMIs they run.

Calls: ec2 DescribeInstances (not terminated), ssm DescribeInstanceInformation,
ssm DescribeInstancePatchStates (50 ids a call), ec2 DescribeImages (the AMIs in use).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import (
    Resource,
    chunks,
    iso,
    pages,
    resource,
    tag_map,
)
from patchwarden.core.rules.resources import EC2_IMAGE, EC2_INSTANCE
from patchwarden.errors import AdapterError

LIVE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")
PATCH_GROUP_TAGS = ("Patch Group", "PatchGroup")
_COUNTS = {
    "missing": "MissingCount",
    "failed": "FailedCount",
    "installed": "InstalledCount",
    "installed_other": "InstalledOtherCount",
    "installed_pending_reboot": "InstalledPendingRebootCount",
    "installed_rejected": "InstalledRejectedCount",
    "not_applicable": "NotApplicableCount",
}
"""The ``patch`` block's counts ← DescribeInstancePatchStates' fields."""


def partition(region: str) -> str:
    """The ARN partition of ``region``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _instances(clients: Any) -> list[tuple[dict[str, Any], str]]:
    """(instance, owner account) of every instance not terminated."""
    found: list[tuple[dict[str, Any], str]] = []
    filters = [{"Name": "instance-state-name", "Values": list(LIVE_STATES)}]
    for reservation in pages(
        clients("ec2"), "ec2", "describe_instances", "Reservations", Filters=filters
    ):
        owner = str(reservation.get("OwnerId") or "")
        found.extend((instance, owner) for instance in reservation.get("Instances", []))
    return found


def _patch_block(state: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {key: int(state.get(field) or 0) for key, field in _COUNTS.items()}
    block["operation"] = state.get("Operation")
    block["operation_end_time"] = iso(state.get("OperationEndTime"))
    block["baseline_id"] = state.get("BaselineId")
    return block


def _ssm(clients: Any, ids: list[str]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Instance id → SSM ping status, and → patch state, for ``ids``."""
    ssm = clients("ssm")
    pings = {
        str(info["InstanceId"]): str(info.get("PingStatus", ""))
        for info in pages(ssm, "ssm", "describe_instance_information", "InstanceInformationList")
    }
    managed = [i for i in ids if i in pings]
    states: dict[str, dict[str, Any]] = {}
    for chunk in chunks(managed, 50):
        for state in pages(
            ssm,
            "ssm",
            "describe_instance_patch_states",
            "InstancePatchStates",
            InstanceIds=chunk,
        ):
            states[str(state["InstanceId"])] = state
    return pings, states


def import_ec2(clients: Any, now: datetime) -> list[Resource]:
    """The account's instances (``AWS::EC2::Instance``) and the AMIs they run
    (``AWS::EC2::Image``)."""
    region, found = clients.region, _instances(clients)
    pings: dict[str, str] | None = {}
    states: dict[str, dict[str, Any]] = {}
    if found:
        try:
            pings, states = _ssm(clients, [str(i["InstanceId"]) for i, _ in found])
        except AdapterError as exc:  # refused or not offered: the instances still count
            clients.warnings.append(f"ec2: instances imported without SSM patch state: {exc}")
            pings = None
    arn_head = f"arn:{partition(region)}:ec2:{region}"
    out: list[Resource] = []
    users: dict[str, list[str]] = {}
    for instance, owner in found:
        ident = str(instance["InstanceId"])
        tags = tag_map(instance.get("Tags"))
        state = states.get(ident)
        group = next((tags[t] for t in PATCH_GROUP_TAGS if tags.get(t)), None)
        if group is None and state is not None:
            group = state.get("PatchGroup") or None
        attributes: dict[str, Any] = {
            "instance_id": ident,
            "image_id": instance.get("ImageId"),
            "state": instance.get("State", {}).get("Name"),
            "platform": instance.get("PlatformDetails") or instance.get("Platform") or "Linux/UNIX",
            "patch_group": group,
            "ssm_managed": None if pings is None else ident in pings,
            "ping_status": None if pings is None else pings.get(ident),
        }
        if state is not None:
            attributes["patch"] = _patch_block(state)
        account = owner or clients.account
        arn = f"{arn_head}:{account}:instance/{ident}"
        out.append(resource(arn, EC2_INSTANCE, tags.get("Name") or ident, tags, attributes))
        if instance.get("ImageId"):
            users.setdefault(str(instance["ImageId"]), []).append(ident)
    out.extend(_images(clients, arn_head, users))
    return out


def _images(clients: Any, arn_head: str, users: dict[str, list[str]]) -> list[Resource]:
    """The AMIs in ``users`` (image id → instance ids); one AWS no longer shows (deregistered,
    or shared and withdrawn) is still listed, without dates."""
    described: dict[str, dict[str, Any]] = {}
    for chunk in chunks(sorted(users), 100):
        for image in pages(
            clients("ec2"),
            "ec2",
            "describe_images",
            "Images",
            Filters=[{"Name": "image-id", "Values": chunk}],
            IncludeDeprecated=True,
        ):
            described[str(image["ImageId"])] = image
    out = []
    for image_id in sorted(users):
        image = described.get(image_id, {})
        attributes = {
            "image_id": image_id,
            "creation_date": iso(image.get("CreationDate")),
            "deprecation_time": iso(image.get("DeprecationTime")),
            "instances": sorted(users[image_id]),
        }
        tags = tag_map(image.get("Tags"))
        name = str(image.get("Name") or image_id)
        out.append(resource(f"{arn_head}::image/{image_id}", EC2_IMAGE, name, tags, attributes))
    return out
