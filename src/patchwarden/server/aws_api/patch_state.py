"""Patch states and Patch compliance over the SSM API, read from what the native routes
read: ``GET /api/v1/compliance`` and ``GET /api/v1/compliance/{node_id}`` (each node's
stored summary and patch states of its last RunPatchBaseline, through
:func:`~patchwarden.server.fleet.views.compliance_view`), and ``GET /api/v1/nodes`` with
``GET /api/v1/nodes/{id}/inventory?kind=update`` for the fleet's available patches.

- DescribeInstancePatchStates, DescribeInstancePatchStatesForPatchGroup: the summary's
  counts (``summary``) per node; the operation's times are the report's (``operation_time``,
  when the node generated it) and its arrival (``reported_at``).
- DescribeInstancePatches, ListComplianceItems: the report's patch states (``patches``).
  A patch is ``KBId`` ``name.arch`` and ``Title`` ``name.arch:version`` (the installed
  version, or the available one for a patch not installed), as AWS names Linux patches.
- DescribePatchGroupState, ListComplianceSummaries, ListResourceComplianceSummaries: the
  same summaries, counted per node (ComplianceType ``Patch``, ResourceType
  ``ManagedInstance``: the only compliance Patchwarden records).
- DescribeAvailablePatches: each active node's available updates, once per (product,
  name, arch, version).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from patchwarden.adapters.storage.queries import baselines as baseline_reads
from patchwarden.adapters.storage.queries import compliance as reads
from patchwarden.adapters.storage.queries import nodes as node_reads
from patchwarden.adapters.storage.queries.compliance import Compliance, NodeLabel
from patchwarden.core.baseline import DEFAULT_BASELINE_NAMES
from patchwarden.core.model import ComplianceLevel, PatchState
from patchwarden.server.aws_api.protocol import (
    AwsError,
    Context,
    Params,
    epoch,
    integer,
    invalid,
    operation,
    page,
    string,
)
from patchwarden.server.db import Session
from patchwarden.server.fleet.views import compliance_view

INSTANCE_ID = r"(i-(\w{8}|\w{17}))|(mi-\w{17})"
PATCH_GROUP = r"[\w\s.:/=+\-@]{1,256}"
SNAPSHOT_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
PATCH = "Patch"
"""The one ComplianceType Patchwarden records."""
MANAGED_INSTANCE = "ManagedInstance"
"""The one ComplianceResourceType (a node)."""
EXECUTION_TYPE = "Command"
"""How AWS names a compliance run by Run Command (RunPatchBaseline)."""
COUNTS = {
    "InstalledCount": PatchState.INSTALLED.value,
    "InstalledOtherCount": PatchState.INSTALLED_OTHER.value,
    "InstalledPendingRebootCount": PatchState.INSTALLED_PENDING_REBOOT.value,
    "InstalledRejectedCount": PatchState.INSTALLED_REJECTED.value,
    "MissingCount": PatchState.MISSING.value,
    "FailedCount": PatchState.FAILED.value,
    "NotApplicableCount": PatchState.NOT_APPLICABLE.value,
    "AvailableSecurityUpdateCount": PatchState.AVAILABLE_SECURITY_UPDATE.value,
    "CriticalNonCompliantCount": "critical_non_compliant",
    "SecurityNonCompliantCount": "security_non_compliant",
    "OtherNonCompliantCount": "other_non_compliant",
}
"""InstancePatchState's counts → the stored summary's keys."""
UNREPORTED_NOT_APPLICABLE = "UnreportedNotApplicableCount"
"""Always 0: a report carries every NOT_APPLICABLE patch (none goes unreported)."""
GROUP_STATE = {
    "InstancesWithInstalledPatches": "InstalledCount",
    "InstancesWithInstalledOtherPatches": "InstalledOtherCount",
    "InstancesWithInstalledPendingRebootPatches": "InstalledPendingRebootCount",
    "InstancesWithInstalledRejectedPatches": "InstalledRejectedCount",
    "InstancesWithMissingPatches": "MissingCount",
    "InstancesWithFailedPatches": "FailedCount",
    "InstancesWithNotApplicablePatches": "NotApplicableCount",
    "InstancesWithUnreportedNotApplicablePatches": UNREPORTED_NOT_APPLICABLE,
    "InstancesWithCriticalNonCompliantPatches": "CriticalNonCompliantCount",
    "InstancesWithSecurityNonCompliantPatches": "SecurityNonCompliantCount",
    "InstancesWithOtherNonCompliantPatches": "OtherNonCompliantCount",
    "InstancesWithAvailableSecurityUpdates": "AvailableSecurityUpdateCount",
}
"""DescribePatchGroupState's counts → the InstancePatchState count a node must have > 0."""
SEVERITIES = tuple(level.value for level in ComplianceLevel)
_SEVERITY_FIELDS = {
    "CRITICAL": "CriticalCount",
    "HIGH": "HighCount",
    "MEDIUM": "MediumCount",
    "LOW": "LowCount",
    "INFORMATIONAL": "InformationalCount",
    "UNSPECIFIED": "UnspecifiedCount",
}
_STATE_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "Equal": lambda a, b: a == b,
    "NotEqual": lambda a, b: a != b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
}
_STRING_OPERATORS: dict[str, Callable[[str, tuple[str, ...]], bool]] = {
    "EQUAL": lambda v, values: v in values,
    "NOT_EQUAL": lambda v, values: v not in values,
    "BEGIN_WITH": lambda v, values: any(v.startswith(x) for x in values),
}
_PATCH_FILTERS = {"Classification", "KBId", "Severity", "State"}
_AVAILABLE_FILTERS = {
    "PRODUCT": "Product",
    "PRODUCT_FAMILY": "ProductFamily",
    "NAME": "Name",
    "ARCH": "Arch",
    "VERSION": "Version",
    "CLASSIFICATION": "Classification",
    "REPOSITORY": "Repository",
}
"""DescribeAvailablePatches' filter keys the inventories answer → the Patch member."""


# -- parameters ----------------------------------------------------------------------------


def _page_size(params: Params) -> None:
    """The patch compliance operations' MaxResults is 10..100."""
    integer(params, "MaxResults", low=10, high=100)


def _list(params: Params, name: str, *, high: int | None = None) -> list[str] | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise AwsError("SerializationException", f"{name}: expected a list of strings")
    if high is not None and len(raw) > high:
        raise invalid(f"{name}: at most {high} values")
    return list(raw)


def _raw_filters(params: Params, high: int) -> list[dict[str, Any]]:
    raw = params.get("Filters")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise AwsError("SerializationException", "Filters: expected a list of objects")
    if len(raw) > high:
        raise invalid(f"Filters: at most {high} filters")
    return raw


def _values(item: dict[str, Any], index: int) -> tuple[str, ...]:
    values = item.get("Values")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise AwsError("SerializationException", f"Filters[{index}].Values: expected strings")
    return tuple(values)


# -- the stored compliance as SSM shapes -------------------------------------------------------


def _time(value: Any) -> float:
    """A view's time (a datetime; naive ones are UTC, as SQLite gives them back)."""
    assert isinstance(value, datetime)
    return epoch(value if value.tzinfo else value.replace(tzinfo=UTC))


class _Baselines:
    """Baseline name → BaselineId (a stored baseline's ``pb-…``, a predefined one's name),
    each looked up once per request."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ids: dict[str, str] = {}

    def id_of(self, view: dict[str, Any]) -> str:
        if view.get("baseline_id"):
            return str(view["baseline_id"])
        name = str(view["baseline"])
        if name not in self._ids:
            detail = None
            if name not in DEFAULT_BASELINE_NAMES.values():
                detail = baseline_reads.baseline_detail(self._session, name)
            self._ids[name] = detail.baseline.id if detail is not None else name
        return self._ids[name]


def _patch_state(view: dict[str, Any], node: NodeLabel, baselines: _Baselines) -> dict[str, Any]:
    """An InstancePatchState from a node's compliance view."""
    summary = view["summary"]
    generated = view["operation_time"] or view["reported_at"]
    out: dict[str, Any] = {
        "InstanceId": view["node_id"],
        "PatchGroup": node.patch_group or "",
        "BaselineId": baselines.id_of(view),
    }
    snapshot = view.get("snapshot_id")
    if isinstance(snapshot, str) and _is_snapshot(snapshot):
        out["SnapshotId"] = snapshot
    for name, key in COUNTS.items():
        out[name] = int(summary.get(key, 0))
    out[UNREPORTED_NOT_APPLICABLE] = 0
    out["OperationStartTime"] = _time(generated)
    out["OperationEndTime"] = _time(view["reported_at"])
    out["Operation"] = view["operation"]
    return out


def _is_snapshot(value: str) -> bool:
    return re.fullmatch(SNAPSHOT_ID, value) is not None


def _kb_id(item: dict[str, Any]) -> str:
    return f"{item['name']}.{item['arch']}" if item.get("arch") else str(item["name"])


def _title(item: dict[str, Any]) -> str:
    installed = item["state"] not in (PatchState.MISSING.value, PatchState.FAILED.value)
    version = item.get("installed_version") if installed else None
    version = version or item.get("available_version") or item.get("installed_version")
    return f"{_kb_id(item)}:{version}" if version else _kb_id(item)


def _patch(item: dict[str, Any]) -> dict[str, Any]:
    """A PatchComplianceData from a report's patch."""
    out: dict[str, Any] = {
        "Title": _title(item),
        "KBId": _kb_id(item),
        "Classification": item.get("classification") or "",
        "Severity": item.get("vendor_severity") or "",
        "State": item["state"],
        "InstalledTime": 0.0,
    }
    if item.get("cves"):
        out["CVEIds"] = ",".join(item["cves"])
    return out


def _status(item: dict[str, Any]) -> str:
    return "COMPLIANT" if PatchState(item["state"]).compliant else "NON_COMPLIANT"


def _execution(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ExecutionTime": _time(view["operation_time"] or view["reported_at"]),
        "ExecutionType": EXECUTION_TYPE,
    }
    if view.get("command_id"):
        out["ExecutionId"] = view["command_id"]
    return out


def _severity_summary(levels: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(_SEVERITY_FIELDS.values(), 0)
    for level in levels:
        counts[_SEVERITY_FIELDS.get(level, "UnspecifiedCount")] += 1
    return counts


def _overall(view: dict[str, Any]) -> str:
    """A node's OverallSeverity: its NonCompliantSeverity, UNSPECIFIED when compliant."""
    return str(view["severity"]) if view.get("severity") else "UNSPECIFIED"


def _view(record: Compliance, items: bool = False) -> dict[str, Any]:
    return compliance_view(record, items=items)


def _reported(
    session: Session, patch_group: str | None = None
) -> list[tuple[Compliance, NodeLabel]]:
    """``GET /api/v1/compliance``'s read: every active reporting node, by id."""
    return reads.reported(session, tags={}, compliance=None, patch_group=patch_group)


# -- patch states ----------------------------------------------------------------------------


@operation("DescribeInstancePatchStates", "viewer")
def describe_instance_patch_states(ctx: Context, params: Params) -> dict[str, Any]:
    """The patch state of each named node that has reported (others are left out, as AWS
    leaves out nodes without patch data)."""
    ids = _list(params, "InstanceIds", high=50)
    if ids is None:
        string(params, "InstanceIds", required=True)
    _page_size(params)
    baselines = _Baselines(ctx.session)
    states = []
    for instance_id in dict.fromkeys(ids or []):
        string({"InstanceIds": instance_id}, "InstanceIds", pattern=INSTANCE_ID)
        node, record = reads.node_compliance(ctx.session, instance_id)
        if node is not None and record is not None:
            states.append(_patch_state(_view(record), node, baselines))
    found, token = page(states, params, maximum=100, default=10)
    return _with_token({"InstancePatchStates": list(found)}, token)


def _count_test(
    key: str, compare: Callable[[int, int], bool], wanted: int
) -> Callable[[dict[str, Any]], bool]:
    return lambda state: compare(int(state[key]), wanted)


def _string_test(
    get: Callable[[dict[str, Any]], str],
    compare: Callable[[str, tuple[str, ...]], bool],
    values: tuple[str, ...],
) -> Callable[[dict[str, Any]], bool]:
    return lambda item: compare(get(item), values)


def _state_filters(params: Params) -> list[Callable[[dict[str, Any]], bool]]:
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for index, item in enumerate(_raw_filters(params, 4)):
        key, kind = item.get("Key"), item.get("Type")
        values = _values(item, index)
        if key not in COUNTS and key != UNREPORTED_NOT_APPLICABLE:
            raise AwsError("InvalidFilter", f"Filters[{index}].Key: {str(key)[:64]!r} is unknown")
        if kind not in _STATE_OPERATORS:
            raise AwsError(
                "InvalidFilter",
                f"Filters[{index}].Type: expected one of {', '.join(_STATE_OPERATORS)}",
            )
        if len(values) != 1 or not values[0].lstrip("-").isdigit():
            raise AwsError("InvalidFilter", f"Filters[{index}].Values: expected one integer")
        tests.append(_count_test(str(key), _STATE_OPERATORS[kind], int(values[0])))
    return tests


def _group(params: Params) -> str:
    group = string(params, "PatchGroup", required=True, pattern=PATCH_GROUP)
    assert group is not None
    return group


@operation("DescribeInstancePatchStatesForPatchGroup", "viewer")
def describe_instance_patch_states_for_patch_group(ctx: Context, params: Params) -> dict[str, Any]:
    """The patch states of the reporting nodes of a patch group, by node id; ``Filters``
    compare a count with one integer (``Equal``, ``NotEqual``, ``LessThan``, ``GreaterThan``)."""
    group = _group(params)
    tests = _state_filters(params)
    _page_size(params)
    baselines = _Baselines(ctx.session)
    states = [_patch_state(_view(r), n, baselines) for r, n in _reported(ctx.session, group)]
    kept = [s for s in states if all(test(s) for test in tests)]
    found, token = page(kept, params, maximum=100, default=10)
    return _with_token({"InstancePatchStates": list(found)}, token)


@operation("DescribeInstancePatches", "viewer")
def describe_instance_patches(ctx: Context, params: Params) -> dict[str, Any]:
    """A node's patches as its last report states them; ``Filters`` on ``Classification``,
    ``KBId``, ``Severity`` (the vendor's), ``State`` (any of the values)."""
    instance_id = string(params, "InstanceId", required=True, pattern=INSTANCE_ID)
    assert instance_id is not None
    wanted: list[tuple[str, tuple[str, ...]]] = []
    for index, item in enumerate(_raw_filters(params, 5)):
        key = item.get("Key")
        if key not in _PATCH_FILTERS:
            raise AwsError(
                "InvalidFilter",
                f"Filters[{index}].Key: expected one of {', '.join(sorted(_PATCH_FILTERS))}",
            )
        wanted.append((str(key), _values(item, index)))
    _page_size(params)
    node, record = reads.node_compliance(ctx.session, instance_id)
    if node is None:
        raise AwsError("InvalidInstanceId", f"Instance {instance_id} is not a managed node.")
    patches = [_patch(i) for i in _view(record, items=True)["patches"]] if record else []
    kept = [p for p in patches if all(p[k] in values for k, values in wanted)]
    found, token = page(kept, params, maximum=100, default=10)
    return _with_token({"Patches": list(found)}, token)


@operation("DescribePatchGroupState", "viewer")
def describe_patch_group_state(ctx: Context, params: Params) -> dict[str, Any]:
    """How many reporting nodes of the group have patches in each state."""
    group = _group(params)
    baselines = _Baselines(ctx.session)
    states = [_patch_state(_view(r), n, baselines) for r, n in _reported(ctx.session, group)]
    out: dict[str, Any] = {"Instances": len(states)}
    for name, count in GROUP_STATE.items():
        out[name] = sum(1 for s in states if s[count] > 0)
    return out


# -- Patch compliance --------------------------------------------------------------------------


def _compliance_filters(
    params: Params, keys: dict[str, Callable[[dict[str, Any]], str]]
) -> tuple[bool, list[Callable[[dict[str, Any]], bool]]]:
    """(whether ``Patch`` passes the ComplianceType filters, the other filters' tests)."""
    patch = True
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for index, item in enumerate(_raw_filters(params, 10)):
        key = item.get("Key")
        kind = item.get("Type") or "EQUAL"
        values = _values(item, index)
        if not 1 <= len(values) <= 20:
            raise invalid(f"Filters[{index}].Values: 1..20 values")
        if kind not in _STRING_OPERATORS:
            raise AwsError(
                "InvalidFilter",
                f"Filters[{index}].Type: expected one of {', '.join(_STRING_OPERATORS)}",
            )
        compare = _STRING_OPERATORS[kind]
        if key == "ComplianceType":
            patch = patch and compare(PATCH, values)
        elif key in keys:
            tests.append(_string_test(keys[str(key)], compare, values))
        else:
            known = ", ".join(["ComplianceType", *keys])
            raise AwsError("InvalidFilter", f"Filters[{index}].Key: expected one of {known}")
    return patch, tests


def _compliance_item(
    view: dict[str, Any], node: NodeLabel, patch: dict[str, Any], baseline: str
) -> dict[str, Any]:
    data = _patch(patch)
    details = {
        "PatchState": data["State"],
        "Classification": data["Classification"],
        "PatchSeverity": data["Severity"],
        "PatchBaselineId": baseline,
        "PatchGroup": node.patch_group or "",
        "CVEIds": data.get("CVEIds", ""),
    }
    return {
        "ComplianceType": PATCH,
        "ResourceType": MANAGED_INSTANCE,
        "ResourceId": view["node_id"],
        "Id": data["KBId"],
        "Title": data["Title"][:500],
        "Status": _status(patch),
        "Severity": patch.get("severity") or "UNSPECIFIED",
        "ExecutionSummary": _execution(view),
        "Details": {k: v for k, v in details.items() if v},
    }


@operation("ListComplianceItems", "viewer")
def list_compliance_items(ctx: Context, params: Params) -> dict[str, Any]:
    """The Patch compliance items of the named nodes (each patch of their last report);
    ``Filters`` on ``ComplianceType``, ``Status``, ``Severity``, ``Id``, ``Title``,
    ``ExecutionId`` with ``EQUAL``, ``NOT_EQUAL``, ``BEGIN_WITH``."""
    ids = _list(params, "ResourceIds")
    types = _list(params, "ResourceTypes") or [MANAGED_INSTANCE]
    if not ids:
        raise invalid("ResourceIds: at least one resource id is required")
    for resource_type in types:
        if resource_type != MANAGED_INSTANCE:
            raise AwsError(
                "InvalidResourceType", f"ResourceType {resource_type[:64]!r} is not supported."
            )
    patch, tests = _compliance_filters(
        params,
        {
            "Status": lambda i: str(i["Status"]),
            "Severity": lambda i: str(i["Severity"]),
            "Id": lambda i: str(i["Id"]),
            "Title": lambda i: str(i["Title"]),
            "ExecutionId": lambda i: str(i["ExecutionSummary"].get("ExecutionId", "")),
        },
    )
    integer(params, "MaxResults", low=1, high=50)
    baselines = _Baselines(ctx.session)
    items: list[dict[str, Any]] = []
    for resource_id in dict.fromkeys(ids):
        node, record = reads.node_compliance(ctx.session, resource_id)
        if node is None:
            raise AwsError("InvalidResourceId", f"Resource {resource_id[:100]} does not exist.")
        if record is None or not patch:
            continue
        view = _view(record, items=True)
        baseline = baselines.id_of(view)
        items.extend(_compliance_item(view, node, p, baseline) for p in view["patches"])
    kept = [i for i in items if all(test(i) for test in tests)]
    found, token = page(kept, params, maximum=50, default=10)
    return _with_token({"ComplianceItems": list(found)}, token)


def _resource_summary(view: dict[str, Any]) -> dict[str, Any]:
    patches = view["patches"]
    compliant = [p for p in patches if _status(p) == "COMPLIANT"]
    non = [p for p in patches if _status(p) == "NON_COMPLIANT"]
    return {
        "ComplianceType": PATCH,
        "ResourceType": MANAGED_INSTANCE,
        "ResourceId": view["node_id"],
        "Status": view["compliance"],
        "OverallSeverity": _overall(view),
        "ExecutionSummary": _execution(view),
        "CompliantSummary": {
            "CompliantCount": len(compliant),
            "SeveritySummary": _severity_summary(p.get("severity", "") for p in compliant),
        },
        "NonCompliantSummary": {
            "NonCompliantCount": len(non),
            "SeveritySummary": _severity_summary(p.get("severity", "") for p in non),
        },
    }


@operation("ListResourceComplianceSummaries", "viewer")
def list_resource_compliance_summaries(ctx: Context, params: Params) -> dict[str, Any]:
    """Each reporting node's Patch compliance: its status, OverallSeverity (its
    NonCompliantSeverity; UNSPECIFIED when compliant) and its patches counted per status
    and severity; by node id.  ``Filters`` on ``ComplianceType``, ``Status``,
    ``OverallSeverity``, ``ResourceId``, ``ResourceType``."""
    patch, tests = _compliance_filters(
        params,
        {
            "Status": lambda s: str(s["Status"]),
            "OverallSeverity": lambda s: str(s["OverallSeverity"]),
            "ResourceId": lambda s: str(s["ResourceId"]),
            "ResourceType": lambda s: str(s["ResourceType"]),
        },
    )
    integer(params, "MaxResults", low=1, high=50)
    summaries = (
        [_resource_summary(_view(r, items=True)) for r, _ in _reported(ctx.session)]
        if patch
        else []
    )
    kept = [s for s in summaries if all(test(s) for test in tests)]
    found, token = page(kept, params, maximum=50, default=10)
    return _with_token({"ResourceComplianceSummaryItems": list(found)}, token)


@operation("ListComplianceSummaries", "viewer")
def list_compliance_summaries(ctx: Context, params: Params) -> dict[str, Any]:
    """The Patch compliance of the fleet: how many reporting nodes are compliant and
    non-compliant, per OverallSeverity (the node counts of ``GET
    /api/v1/compliance/summary``).  ``Filters`` on ``ComplianceType``."""
    patch, _ = _compliance_filters(params, {})
    integer(params, "MaxResults", low=1, high=50)
    summaries: list[dict[str, Any]] = []
    if patch:
        views = [_view(r) for r, _ in _reported(ctx.session)]
        compliant = [v for v in views if v["compliance"] == "COMPLIANT"]
        non = [v for v in views if v["compliance"] != "COMPLIANT"]
        summaries.append(
            {
                "ComplianceType": PATCH,
                "CompliantSummary": {
                    "CompliantCount": len(compliant),
                    "SeveritySummary": _severity_summary(_overall(v) for v in compliant),
                },
                "NonCompliantSummary": {
                    "NonCompliantCount": len(non),
                    "SeveritySummary": _severity_summary(_overall(v) for v in non),
                },
            }
        )
    found, token = page(summaries, params, maximum=50, default=10)
    return _with_token({"ComplianceSummaryItems": list(found)}, token)


# -- the fleet's available patches -----------------------------------------------------------


def _available(product: str, family: str, update: dict[str, Any]) -> dict[str, Any]:
    kb = f"{update['name']}.{update['arch']}" if update.get("arch") else str(update["name"])
    out: dict[str, Any] = {
        "Id": f"{kb}:{update['version']}"[:100],
        "Title": f"{kb}:{update['version']}",
        "Product": product,
        "ProductFamily": family,
        "Name": update["name"],
        "Version": update["version"],
        "Arch": update["arch"],
        "Classification": update.get("classification") or "",
        "Repository": update.get("repository") or "",
    }
    return {k: v for k, v in out.items() if v}


@operation("DescribeAvailablePatches", "viewer")
def describe_available_patches(ctx: Context, params: Params) -> dict[str, Any]:
    """The updates the active nodes' inventories offer, once per (product, name, arch,
    version), by product, name, arch, version.  ``Filters`` (values OR-ed, keys AND-ed)
    on what the inventories record: ``PRODUCT``, ``PRODUCT_FAMILY``, ``NAME``, ``ARCH``,
    ``VERSION``, ``CLASSIFICATION``, ``REPOSITORY``; ``*`` matches any value."""
    wanted: list[tuple[str, tuple[str, ...]]] = []
    for index, item in enumerate(_raw_filters(params, 5)):
        key = item.get("Key")
        if key not in _AVAILABLE_FILTERS:
            known = ", ".join(_AVAILABLE_FILTERS)
            raise invalid(f"Filters[{index}].Key: {str(key)[:64]!r} is not one of {known}")
        wanted.append((_AVAILABLE_FILTERS[str(key)], _values(item, index)))
    integer(params, "MaxResults", low=1, high=100)
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for node in node_reads.nodes(
        ctx.session, tags={}, patch_group=None, include_deregistered=False
    ):
        updates = node_reads.inventory(ctx.session, node.id, "update") or []
        for update in updates:
            key = (node.product, update["name"], update["arch"], update["version"])
            if key not in found:
                found[key] = _available(node.product, node.operating_system, update)
    patches = [found[k] for k in sorted(found)]
    kept = [p for p in patches if all(_matches(p.get(k, ""), v) for k, v in wanted)]
    shown, token = page(kept, params, maximum=100, default=100)
    return _with_token({"Patches": list(shown)}, token)


def _matches(value: str, values: Sequence[str]) -> bool:
    return "*" in values or value in values


def _with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        out["NextToken"] = token
    return out
