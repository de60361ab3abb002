"""Managed nodes, their tags and hybrid activations over the SSM API, on the same use cases
and reads as ``/api/v1/nodes`` and ``/api/v1/activations`` (so a change is audited alike,
and a tag change triggers the governance rules alike, whichever API made it).

- DescribeInstanceInformation is ``GET /api/v1/nodes`` (registered nodes, by id, with the
  ping status of :func:`~patchwarden.server.fleet.views.node_view`);
- Add/List/RemoveTagsFromResource (``ResourceType=ManagedInstance`` only) read the node and
  put its complete tag set, as ``patchwarden tag add|remove`` does (``node.tags``);
- DeregisterManagedInstance is ``DELETE /api/v1/nodes/ID`` (admin, ``node.deregister``);
- Create/Describe/DeleteActivation are ``/api/v1/activations`` (admin, as there).

Patchwarden has no IAM and no State Manager: ``IamRole`` is accepted and ignored, and the
``IamRole``/``AssociationStatus`` filters match nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from patchwarden.adapters.storage.activations import SqlActivations
from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.node_admin import SqlNodes
from patchwarden.adapters.storage.queries import access as access_reads
from patchwarden.adapters.storage.queries import nodes as node_reads
from patchwarden.core.presence import PING_STATUSES
from patchwarden.pipeline.fleet import access, nodes
from patchwarden.pipeline.fleet.records import ActivationRecord, ActivationSpec, NodeRecord
from patchwarden.server import governance
from patchwarden.server.aws_api.protocol import (
    AwsError,
    Context,
    Params,
    epoch,
    integer,
    invalid,
    operation,
    page,
    refusals,
    string,
)
from patchwarden.server.fleet.views import node_view

NODE_ID = r"mi-[0-9a-f]{17}"
INSTANCE_ID = r"(i-(\w{8}|\w{17}))|(mi-\w{17})"
ACTIVATION_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MAX_TAGS = 50
"""A node's (and an activation's) tags at most, as the native API allows."""
MAX_EXPIRY = timedelta(days=30)
MIN_EXPIRY = timedelta(seconds=60)
DEFAULT_EXPIRY = timedelta(hours=24)
SOURCE_TYPE = "AWS::SSM::ManagedInstance"
RESOURCE_TYPES = (
    "Document",
    "ManagedInstance",
    "MaintenanceWindow",
    "Parameter",
    "PatchBaseline",
    "OpsItem",
    "OpsMetadata",
    "Automation",
    "Association",
    "CloudConnector",
)
"""The model's ResourceTypeForTagging (only ManagedInstance is taggable here)."""
PLATFORM_NAMES = {
    "AMAZON_LINUX": "Amazon Linux AMI",
    "AMAZON_LINUX_2": "Amazon Linux",
    "AMAZON_LINUX_2023": "Amazon Linux",
    "UBUNTU": "Ubuntu",
    "DEBIAN": "Debian GNU/Linux",
    "REDHAT_ENTERPRISE_LINUX": "Red Hat Enterprise Linux",
    "CENTOS": "CentOS Linux",
    "ORACLE_LINUX": "Oracle Linux Server",
    "ROCKY_LINUX": "Rocky Linux",
    "ALMA_LINUX": "AlmaLinux",
    "SUSE": "SLES",
    "ALPINE": "Alpine Linux",
}
"""The node's OperatingSystem → the PlatformName SSM Agent reports for it."""
_TAG_PUNCTUATION = set("_.:/=+-@")


# -- parameters ------------------------------------------------------------------------------


def _tag_text(value: str, where: str) -> None:
    r"""``value`` matches the model's ``^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$``."""
    for char in value:
        category = unicodedata.category(char)
        if category[0] not in "LZN" and char not in _TAG_PUNCTUATION:
            raise invalid(f"{where}: {value[:128]!r} has a character tags do not allow")


def _tag_key(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise AwsError("SerializationException", f"{where}: expected a string")
    if not 1 <= len(value) <= 128:
        raise invalid(f"{where}: length must be 1..128")
    _tag_text(value, where)
    return value


def _tags(params: Params, name: str = "Tags") -> dict[str, str]:
    """A ``[{"Key": ..., "Value": ...}]`` list as a dict (at most :data:`MAX_TAGS`)."""
    raw = params.get(name)
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise AwsError("SerializationException", f"{name}: expected a list")
    found: dict[str, str] = {}
    for index, item in enumerate(raw):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise AwsError("SerializationException", f"{where}: expected an object")
        key = _tag_key(item.get("Key"), f"{where}.Key")
        value = string(item, "Value", required=True, max_length=256)
        assert value is not None
        _tag_text(value, f"{where}.Value")
        found[key] = value
    if len(found) > MAX_TAGS:
        raise AwsError("TooManyTagsError", f"{name}: at most {MAX_TAGS} tags")
    return found


def _tag_list(tags: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(tags[k])} for k in sorted(tags)]


def _values(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise AwsError("SerializationException", f"{where}: expected a list of strings")
    if not 1 <= len(raw) <= 100:
        raise invalid(f"{where}: expected 1..100 values")
    if any(not v for v in raw):
        raise invalid(f"{where}: a value must not be empty")
    return tuple(raw)


def _paged(items: Sequence[Any], params: Params, list_name: str, **kw: Any) -> dict[str, Any]:
    shown, token = page(items, params, **kw)
    out: dict[str, Any] = {list_name: list(shown)}
    if token:
        out["NextToken"] = token
    return out


# -- DescribeInstanceInformation -----------------------------------------------------------

INFO_KEYS = (
    "InstanceIds",
    "AgentVersion",
    "PingStatus",
    "PlatformTypes",
    "ActivationIds",
    "IamRole",
    "ResourceType",
    "AssociationStatus",
)
"""The keys of InstanceInformationFilterList (Filters adds these below and tags)."""
STRING_KEYS = (*INFO_KEYS, "SourceIds", "SourceTypes")


def _info_filters(params: Params) -> list[tuple[str, tuple[str, ...]]]:
    """Both filter lists as (key, values): ``InstanceInformationFilterList`` (``key``,
    ``valueSet``) and ``Filters`` (``Key``, ``Values``, also ``tag:KEY`` and ``tag-key``)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for name, key_name, values_name, keys in (
        ("InstanceInformationFilterList", "key", "valueSet", INFO_KEYS),
        ("Filters", "Key", "Values", STRING_KEYS),
    ):
        raw = params.get(name)
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise AwsError("SerializationException", f"{name}: expected a list")
        for index, item in enumerate(raw):
            where = f"{name}[{index}]"
            if not isinstance(item, dict):
                raise AwsError("SerializationException", f"{where}: expected an object")
            key = string(item, key_name, required=True, min_length=1, max_length=256)
            assert key is not None
            tag = name == "Filters" and (key == "tag-key" or key.startswith("tag:"))
            if key not in keys and not (tag and key != "tag:"):
                raise AwsError(
                    "InvalidFilterKey", f"{where}.{key_name}: {key[:128]!r} is not a filter key"
                )
            found.append((key, _values(item.get(values_name), f"{where}.{values_name}")))
    return found


def _choices(key: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise AwsError(
            "InvalidInstanceInformationFilterValue",
            f"{key}: {wrong[0][:64]!r} is not one of {', '.join(allowed)}",
        )


Info = dict[str, Any]
"""An InstanceInformation, as answered."""


def _matcher(key: str, values: tuple[str, ...]) -> Callable[[Info], bool]:
    """Whether an InstanceInformation passes the filter (values OR-ed)."""
    if key == "InstanceIds":
        for value in values:
            if not re.fullmatch(INSTANCE_ID, value):
                raise AwsError("InvalidInstanceId", f"Instance id {value[:64]!r} is not valid.")
        return lambda info: info["InstanceId"] in values
    if key == "PingStatus":
        _choices(key, values, PING_STATUSES)
        return lambda info: info["PingStatus"] in values
    if key == "PlatformTypes":
        _choices(key, values, ("Windows", "Linux", "MacOS"))
        return lambda info: info["PlatformType"] in values
    if key == "ResourceType":
        _choices(key, values, ("ManagedInstance", "EC2Instance"))
        return lambda info: info["ResourceType"] in values
    if key == "SourceTypes":
        return lambda info: info["SourceType"] in values
    fields = {
        "AgentVersion": "AgentVersion",
        "ActivationIds": "ActivationId",
        "SourceIds": "SourceId",
        "IamRole": "IamRole",
        "AssociationStatus": "AssociationStatus",
    }
    field = fields[key]
    return lambda info: info.get(field) in values


def _information(view: dict[str, Any]) -> Info:
    """A node view (``GET /api/v1/nodes``) as an InstanceInformation."""
    platform = view["platform"]
    info: Info = {
        "InstanceId": view["node_id"],
        "PingStatus": view["ping_status"],
        "AgentVersion": view["agent_version"],
        "PlatformType": "Linux",
        "PlatformName": PLATFORM_NAMES.get(platform["operating_system"], platform["os_id"]),
        "PlatformVersion": platform["os_version"],
        "RegistrationDate": epoch(view["registered_at"]),
        "ResourceType": "ManagedInstance",
        "Name": view["name"],
        "SourceId": view["node_id"],
        "SourceType": SOURCE_TYPE,
    }
    if view["last_ping_at"] is not None:
        info["LastPingDateTime"] = epoch(view["last_ping_at"])
    if view["activation_id"]:
        info["ActivationId"] = view["activation_id"]
    if view["hostname"]:
        info["ComputerName"] = view["hostname"][:255]
    return info


@operation("DescribeInstanceInformation", "viewer")
def describe_instance_information(ctx: Context, params: Params) -> dict[str, Any]:
    """The registered nodes (by id), filtered: keys AND-ed, a key's values OR-ed;
    ``tag:KEY`` and ``tag-key`` filter in the node query as ``?tag=KEY=VALUE`` does."""
    integer(params, "MaxResults", low=5, high=50)
    tags: dict[str, list[str]] = {}
    matchers: list[Callable[[Info], bool]] = []
    for key, values in _info_filters(params):
        if key == "tag-key":
            for tag_key in values:
                tags.setdefault(tag_key, []).append("*")  # any value (nodes.filtered)
        elif key.startswith("tag:"):
            tags.setdefault(key.removeprefix("tag:"), []).extend(values)
        else:
            matchers.append(_matcher(key, values))
    found = node_reads.nodes(ctx.session, tags=tags, patch_group=None, include_deregistered=False)
    infos = [_information(node_view(n, ctx.now, ctx.settings)) for n in found]
    infos = [i for i in infos if all(match(i) for match in matchers)]
    return _paged(infos, params, "InstanceInformationList", maximum=50)


# -- tags --------------------------------------------------------------------------------------


def _resource_node(ctx: Context, params: Params) -> NodeRecord:
    """The node a tagging operation names (``ResourceType=ManagedInstance``)."""
    kind = string(params, "ResourceType", required=True, enum=RESOURCE_TYPES)
    ident = string(params, "ResourceId", required=True, min_length=1, max_length=1024)
    assert ident is not None
    if kind != "ManagedInstance":
        raise AwsError(
            "InvalidResourceType",
            f"ResourceType {kind}: Patchwarden tags managed instances only (ManagedInstance)",
        )
    node = node_reads.node(ctx.session, ident) if re.fullmatch(NODE_ID, ident) else None
    if node is None:
        raise AwsError("InvalidResourceId", f"Managed instance {ident[:64]} does not exist.")
    return node


def _retag(ctx: Context, node: NodeRecord, tags: dict[str, str]) -> None:
    """Put the node's complete tag set (``PUT /api/v1/nodes/ID/tags``)."""
    if len(tags) > MAX_TAGS:
        raise AwsError("TooManyTagsError", f"A managed instance has at most {MAX_TAGS} tags.")
    session, at = ctx.session, ctx.now
    with refusals(not_found="InvalidResourceId"):
        nodes.retag_node(
            SqlNodes(session),
            SqlAuditLog(session),
            node.id,
            tags,
            ctx.principal.actor,
            at,
            lambda changed: governance.changed(session, changed, at),  # e.g. required-tags
        )


@operation("AddTagsToResource", "operator")
def add_tags_to_resource(ctx: Context, params: Params) -> dict[str, Any]:
    """Add or overwrite the given tags of a managed instance."""
    node = _resource_node(ctx, params)
    if params.get("Tags") is None:
        string(params, "Tags", required=True)  # the model's "must not be null"
    added = _tags(params)
    _retag(ctx, node, {**{k: str(v) for k, v in node.tags.items()}, **added})
    return {}


@operation("RemoveTagsFromResource", "operator")
def remove_tags_from_resource(ctx: Context, params: Params) -> dict[str, Any]:
    """Remove the given tag keys of a managed instance (keys it lacks are ignored)."""
    node = _resource_node(ctx, params)
    raw = params.get("TagKeys")
    if raw is None:
        string(params, "TagKeys", required=True)
    if not isinstance(raw, list):
        raise AwsError("SerializationException", "TagKeys: expected a list")
    gone = {_tag_key(k, f"TagKeys[{i}]") for i, k in enumerate(raw)}
    _retag(ctx, node, {k: str(v) for k, v in node.tags.items() if k not in gone})
    return {}


@operation("ListTagsForResource", "viewer")
def list_tags_for_resource(ctx: Context, params: Params) -> dict[str, Any]:
    """A managed instance's tags, by key."""
    return {"TagList": _tag_list(_resource_node(ctx, params).tags)}


# -- deregistration ----------------------------------------------------------------------------


@operation("DeregisterManagedInstance", "admin")
def deregister_managed_instance(ctx: Context, params: Params) -> dict[str, Any]:
    """The node's credential stops working; its history stays (``DELETE
    /api/v1/nodes/ID``, admin).  A second deregistration changes nothing."""
    ident = string(params, "InstanceId", required=True, min_length=20, max_length=124)
    assert ident is not None
    if not re.fullmatch(NODE_ID, ident):
        raise AwsError("InvalidInstanceId", f"Instance id {ident[:64]!r} is not valid.")
    with refusals(not_found="InvalidInstanceId"):
        nodes.deregister_node(
            SqlNodes(ctx.session), SqlAuditLog(ctx.session), ident, ctx.principal.actor, ctx.now
        )
    return {}


# -- activations -------------------------------------------------------------------------------


def _expiry(ctx: Context, params: Params) -> datetime:
    raw = params.get("ExpirationDate")
    if raw is None:
        return ctx.now + DEFAULT_EXPIRY
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        raise AwsError("SerializationException", "ExpirationDate: expected a timestamp")
    try:
        at = datetime.fromtimestamp(raw, UTC)
    except (OverflowError, OSError, ValueError):
        raise invalid("ExpirationDate: not a valid timestamp") from None
    if not MIN_EXPIRY <= at - ctx.now <= MAX_EXPIRY:
        raise invalid("ExpirationDate: must be between 1 minute and 30 days from now")
    return at


@operation("CreateActivation", "admin")
def create_activation(ctx: Context, params: Params) -> dict[str, Any]:
    """A hybrid activation (``POST /api/v1/activations``); its code is answered only here.
    ``IamRole`` and ``RegistrationMetadata`` are accepted and ignored."""
    description = string(params, "Description", max_length=256) or ""
    name = string(params, "DefaultInstanceName", max_length=256) or ""
    _tag_text(name, "DefaultInstanceName")
    string(params, "IamRole", max_length=64)
    limit = integer(params, "RegistrationLimit", low=1, high=1000) or 1
    spec = ActivationSpec(
        description=description,
        default_instance_name=name,
        registration_limit=limit,
        expires_at=_expiry(ctx, params),
        tags=_tags(params),
    )
    row, code = access.create_activation(
        SqlActivations(ctx.session), SqlAuditLog(ctx.session), spec, ctx.principal.actor, ctx.now
    )
    return {"ActivationId": row.id, "ActivationCode": code}


def _activation(row: ActivationRecord, now: datetime) -> dict[str, Any]:
    """An Activation (never its code)."""
    out: dict[str, Any] = {
        "ActivationId": row.id,
        "Description": row.description,
        "DefaultInstanceName": row.default_instance_name,
        "RegistrationLimit": row.registration_limit,
        "RegistrationsCount": row.registration_count,
        "ExpirationDate": epoch(row.expires_at),
        "Expired": now >= row.expires_at,
        "CreatedDate": epoch(row.created_at),
        "Tags": _tag_list(row.tags),
    }
    return out


@operation("DescribeActivations", "admin")
def describe_activations(ctx: Context, params: Params) -> dict[str, Any]:
    """Every activation, oldest first (``GET /api/v1/activations``); filters ActivationIds,
    DefaultInstanceName (``IamRole`` matches none: Patchwarden keeps no IAM role)."""
    raw = params.get("Filters")
    if raw is not None and not isinstance(raw, list):
        raise AwsError("SerializationException", "Filters: expected a list")
    rows = access_reads.activations(ctx.session)
    for index, item in enumerate(raw or []):
        where = f"Filters[{index}]"
        if not isinstance(item, dict):
            raise AwsError("SerializationException", f"{where}: expected an object")
        key = string(
            item,
            "FilterKey",
            required=True,
            enum=("ActivationIds", "DefaultInstanceName", "IamRole"),
        )
        values = item.get("FilterValues") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise AwsError("SerializationException", f"{where}.FilterValues: expected strings")
        if key == "ActivationIds":
            rows = [r for r in rows if r.id in values]
        elif key == "DefaultInstanceName":
            rows = [r for r in rows if r.default_instance_name in values]
        else:
            rows = []
    return _paged([_activation(r, ctx.now) for r in rows], params, "ActivationList", maximum=50)


@operation("DeleteActivation", "admin")
def delete_activation(ctx: Context, params: Params) -> dict[str, Any]:
    """The activation expires now (``DELETE /api/v1/activations/ID``): no node registers
    with it any more; the nodes registered with it stay."""
    ident = string(params, "ActivationId", required=True, pattern=ACTIVATION_ID)
    assert ident is not None
    with refusals(not_found="InvalidActivationId"):
        access.expire_activation(
            SqlActivations(ctx.session),
            SqlAuditLog(ctx.session),
            ident,
            ctx.principal.actor,
            ctx.now,
        )
    return {}
