"""Patch baselines and patch groups over the SSM API, on the same use cases and reads as
``/api/v1/baselines``, ``/api/v1/patch-groups`` and ``/api/v1/default-baselines`` (so one
change is audited alike whichever API made it).

Ids: a stored baseline is its native id (``pb-`` + 17 hex digits); a predefined baseline
is its AWS name (``AWS-DebianDefaultPatchBaseline``…), also accepted as an ARN
(``arn:aws:ssm:REGION::patchbaseline/…``, the last part counts).  Patchwarden's baseline
names are unique, so CreatePatchBaseline with a taken name is ``AlreadyExistsException``,
and UpdatePatchBaseline cannot rename one.  Parameters AWS defaults to ``WINDOWS``
(``OperatingSystem`` of GetDefaultPatchBaseline, GetPatchBaselineForPatchGroup) default to
it here too: Patchwarden has no Windows baseline, so name a Linux one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from patchwarden.adapters.storage.audit_log import SqlAuditLog
from patchwarden.adapters.storage.baselines import SqlBaselines
from patchwarden.adapters.storage.patch_groups import SqlPatchGroups
from patchwarden.adapters.storage.queries import baselines as reads
from patchwarden.core.baseline import DEFAULT_BASELINE_NAMES
from patchwarden.documents import BaselineDocument
from patchwarden.documents.ssm_shapes import UPDATABLE_FIELDS, baseline_fields
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.fleet import baselines, patch_groups
from patchwarden.pipeline.fleet.baseline_resolution import parse_baseline, predefined
from patchwarden.pipeline.fleet.records import StoredBaseline
from patchwarden.server.aws_api.protocol import (
    AwsError,
    Context,
    Params,
    epoch,
    filters,
    invalid,
    operation,
    page,
    refusals,
    string,
)
from patchwarden.server.db import Session

BASELINE_ID = r"[a-zA-Z0-9_\-:/]{20,128}"
BASELINE_NAME = r"[a-zA-Z0-9_\-.]{3,128}"
PATCH_GROUP = r"[\w\s.:/=+\-@]*"
OPERATING_SYSTEMS = (
    "WINDOWS",
    "AMAZON_LINUX",
    "AMAZON_LINUX_2",
    "AMAZON_LINUX_2022",
    "UBUNTU",
    "REDHAT_ENTERPRISE_LINUX",
    "SUSE",
    "CENTOS",
    "ORACLE_LINUX",
    "DEBIAN",
    "MACOS",
    "RASPBIAN",
    "ROCKY_LINUX",
    "ALMA_LINUX",
    "AMAZON_LINUX_2023",
    "ALPINE",  # Patchwarden's own
)
"""SSM's OperatingSystem values, and Patchwarden's ALPINE."""
PREDEFINED = {name: system for system, name in DEFAULT_BASELINE_NAMES.items()}
"""Predefined baseline name → its OperatingSystem."""
_ARN = re.compile(r"arn:aws[\w-]*:ssm:[^:]*:[^:]*:patchbaseline/(.+)")


@dataclass(frozen=True)
class Found:
    """A baseline an id names: a stored one, or the predefined one of an OS."""

    id: str
    document: dict[str, Any]
    stored: StoredBaseline | None = None

    @property
    def name(self) -> str:
        """The baseline's name."""
        return str(self.document["metadata"]["name"])

    @property
    def operating_system(self) -> str:
        """The baseline's OperatingSystem."""
        return str(self.document["spec"]["OperatingSystem"])


def _ident(params: Params, name: str = "BaselineId") -> str:
    value = string(params, name, required=True, pattern=BASELINE_ID)
    assert value is not None
    arn = _ARN.fullmatch(value)
    return arn.group(1) if arn else value


def _predefined(name: str) -> Found | None:
    system = PREDEFINED.get(name)
    document = predefined(system) if system else None
    return Found(name, document) if document is not None else None


def _find(session: Session, ident: str) -> Found:
    """The baseline ``ident`` names; ``DoesNotExistException`` when none."""
    stored = reads.baseline_by_id(session, ident)
    if stored is not None:
        return Found(stored.id, stored.document, stored)
    found = _predefined(ident)
    if found is None:
        raise AwsError("DoesNotExistException", f"Patch baseline {ident} does not exist.")
    return found


def _stored(session: Session, ident: str, what: str) -> StoredBaseline:
    """The stored baseline ``ident``; a predefined one cannot be ``what`` (changed)."""
    found = _find(session, ident)
    if found.stored is None:
        raise invalid(f"{ident} is a predefined baseline: it cannot be {what}")
    return found.stored


def _baseline(session: Session, found: Found) -> dict[str, Any]:
    """GetPatchBaseline's (and UpdatePatchBaseline's) output."""
    out = {"BaselineId": found.id, **baseline_fields(found.document)}
    if found.stored is not None:
        detail = reads.baseline_detail(session, found.stored.name)
        out["PatchGroups"] = detail.patch_groups if detail else []
        out["CreatedDate"] = epoch(found.stored.created_at)
        out["ModifiedDate"] = epoch(found.stored.modified_at)
    else:
        out["PatchGroups"] = []
    return out


def _document(raw: dict[str, Any], where: str, labels: dict[str, str]) -> BaselineDocument:
    try:
        parsed = parse_baseline(raw, where)
    except PatchwardenError as exc:
        raise invalid(str(exc)) from None
    return BaselineDocument(parsed.baseline, labels, where)


def _defaults(session: Session) -> dict[str, str]:
    """OS → the id of the operator's default baseline."""
    return {d["operating_system"]: d["baseline_id"] for d in reads.default_baselines(session)}


def _identity(found: Found, defaults: dict[str, str]) -> dict[str, Any]:
    """A PatchBaselineIdentity."""
    system = found.operating_system
    is_default = (
        defaults.get(system) == found.id if found.stored is not None else system not in defaults
    )
    out = {
        "BaselineId": found.id,
        "BaselineName": found.name,
        "OperatingSystem": system,
        "DefaultBaseline": is_default,
    }
    description = found.document["spec"].get("Description")
    if description:
        out["BaselineDescription"] = description
    return out


def _operating_system(params: Params) -> str:
    value = string(params, "OperatingSystem", enum=OPERATING_SYSTEMS)
    return value or "WINDOWS"  # AWS's default


def _default_for(session: Session, system: str) -> Found:
    ident = _defaults(session).get(system)
    if ident is not None:
        return _find(session, ident)
    name = DEFAULT_BASELINE_NAMES.get(system)
    found = _predefined(name) if name else None
    if found is None:
        raise AwsError(
            "DoesNotExistException",
            f"No default patch baseline for {system}: Patchwarden manages Linux nodes "
            "(give OperatingSystem)",
        )
    return found


@operation("CreatePatchBaseline", "operator")
def create_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """A new baseline (its name must be free: Patchwarden's names are unique)."""
    name = string(params, "Name", required=True, pattern=BASELINE_NAME)
    assert name is not None
    string(params, "OperatingSystem", enum=OPERATING_SYSTEMS)
    if "OperatingSystem" not in params:
        raise invalid(
            "OperatingSystem: AWS's default is WINDOWS, which Patchwarden does not manage; "
            "give a Linux OperatingSystem"
        )
    doc = _document(dict(params), "CreatePatchBaseline", {})
    if name in PREDEFINED or reads.baseline_detail(ctx.session, name) is not None:
        raise AwsError("AlreadyExistsException", f"A patch baseline named {name} already exists.")
    with refusals():
        row, _ = baselines.save_baseline(
            SqlBaselines(ctx.session), SqlAuditLog(ctx.session), doc, ctx.principal.actor, ctx.now
        )
    return {"BaselineId": row.id}


@operation("GetPatchBaseline", "viewer")
def get_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """One baseline, stored or predefined."""
    return _baseline(ctx.session, _find(ctx.session, _ident(params)))


@operation("UpdatePatchBaseline", "operator")
def update_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """Change the given fields (``Replace``: every field not given goes back to its
    default); the name and the OperatingSystem stay."""
    stored = _stored(ctx.session, _ident(params), "updated")
    name = string(params, "Name", pattern=BASELINE_NAME)
    if name is not None and name != stored.name:
        raise invalid(f"Name: renaming a baseline is not supported ({stored.name!r})")
    replace = params.get("Replace", False)
    if not isinstance(replace, bool):
        raise AwsError("SerializationException", "Replace: expected a boolean")
    current = baseline_fields(stored.document)
    raw: dict[str, Any] = {"Name": stored.name, "OperatingSystem": stored.operating_system}
    if not replace:
        raw.update({k: v for k, v in current.items() if k in UPDATABLE_FIELDS})
    raw.update({k: params[k] for k in UPDATABLE_FIELDS if k in params})
    own = stored.document["spec"].get("Patchwarden")
    if own:
        raw["Patchwarden"] = own  # Patchwarden's own settings are not SSM fields: kept
    labels = dict(stored.document.get("metadata", {}).get("labels") or {})
    doc = _document(raw, "UpdatePatchBaseline", labels)
    with refusals():
        row, _ = baselines.save_baseline(
            SqlBaselines(ctx.session), SqlAuditLog(ctx.session), doc, ctx.principal.actor, ctx.now
        )
    out = _baseline(ctx.session, Found(row.id, row.document, row))
    del out["PatchGroups"]  # not a member of UpdatePatchBaselineResult
    return out


@operation("DeletePatchBaseline", "operator")
def delete_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """Delete a baseline no patch group or default registration uses
    (``ResourceInUseException`` otherwise)."""
    stored = _stored(ctx.session, _ident(params), "deleted")
    with refusals(conflict="ResourceInUseException"):
        baselines.delete_baseline(
            SqlBaselines(ctx.session),
            SqlAuditLog(ctx.session),
            stored.name,
            ctx.principal.actor,
            ctx.now,
        )
    return {"BaselineId": stored.id}


@operation("DescribePatchBaselines", "viewer")
def describe_patch_baselines(ctx: Context, params: Params) -> dict[str, Any]:
    """The stored baselines (owner ``Self``, by name) then the predefined ones (``AWS``);
    filters NAME_PREFIX, OWNER (Self, AWS, All) and OPERATING_SYSTEM."""
    chosen = filters(params, ("NAME_PREFIX", "OWNER", "OPERATING_SYSTEM"))
    found = [Found(b.id, b.document, b) for b in reads.baselines(ctx.session)]
    found += [f for f in map(_predefined, sorted(PREDEFINED)) if f is not None]
    found = [b for b in found if b.operating_system in AWS_SYSTEMS]  # no ALPINE in AWS's model
    for f in chosen:
        if f.key == "NAME_PREFIX":
            found = [b for b in found if any(b.name.startswith(v) for v in f.values)]
        elif f.key == "OPERATING_SYSTEM":
            found = [b for b in found if b.operating_system in f.values]
        elif "All" not in f.values:
            owners = {"Self": True, "AWS": False}
            wanted = {owners[v] for v in f.values if v in owners}
            found = [b for b in found if (b.stored is not None) in wanted]
    defaults = _defaults(ctx.session)
    shown, token = page(found, params, maximum=100)
    out: dict[str, Any] = {"BaselineIdentities": [_identity(b, defaults) for b in shown]}
    if token:
        out["NextToken"] = token
    return out


AWS_SYSTEMS = frozenset(
    {
        "WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023",
        "UBUNTU", "REDHAT_ENTERPRISE_LINUX", "SUSE", "CENTOS", "ORACLE_LINUX", "DEBIAN",
        "MACOS", "RASPBIAN", "ROCKY_LINUX", "ALMA_LINUX",
    }
)  # fmt: skip
"""The OperatingSystem values of SSM's model: a listing through the AWS API leaves out
Patchwarden's own (Alpine), which AWS clients would not know."""


@operation("GetDefaultPatchBaseline", "viewer")
def get_default_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """The OS's default: the operator's, else the predefined one."""
    system = _operating_system(params)
    found = _default_for(ctx.session, system)
    return {"BaselineId": found.id, "OperatingSystem": system}


@operation("RegisterDefaultPatchBaseline", "operator")
def register_default_patch_baseline(ctx: Context, params: Params) -> dict[str, Any]:
    """Make a baseline its OS's default; naming the predefined baseline goes back to it."""
    found = _find(ctx.session, _ident(params))
    groups, audit = SqlPatchGroups(ctx.session), SqlAuditLog(ctx.session)
    with refusals():
        if found.stored is not None:
            patch_groups.set_default(
                SqlBaselines(ctx.session),
                groups,
                audit,
                found.operating_system,
                found.name,
                ctx.principal.actor,
                ctx.now,
            )
        elif found.operating_system in _defaults(ctx.session):
            patch_groups.reset_default(
                groups, audit, found.operating_system, ctx.principal.actor, ctx.now
            )
    return {"BaselineId": found.id}


def _patch_group(params: Params) -> str:
    value = string(params, "PatchGroup", required=True, pattern=PATCH_GROUP, min_length=1)
    assert value is not None
    if len(value) > 256:
        raise invalid("PatchGroup: length must be 1..256")
    return value


@operation("RegisterPatchBaselineForPatchGroup", "operator")
def register_patch_baseline_for_patch_group(ctx: Context, params: Params) -> dict[str, Any]:
    """One baseline per (patch group, OS): a second one is ``AlreadyExistsException``."""
    group = _patch_group(params)
    stored = _stored(ctx.session, _ident(params), "registered for a patch group")
    with refusals(conflicts={"already_exists": "AlreadyExistsException"}):
        patch_groups.register_patch_group(
            SqlBaselines(ctx.session),
            SqlPatchGroups(ctx.session),
            SqlAuditLog(ctx.session),
            group,
            stored.name,
            ctx.principal.actor,
            ctx.now,
        )
    return {"BaselineId": stored.id, "PatchGroup": group}


@operation("DeregisterPatchBaselineForPatchGroup", "operator")
def deregister_patch_baseline_for_patch_group(ctx: Context, params: Params) -> dict[str, Any]:
    """Remove the patch group's registration of the baseline (``InvalidResourceId`` when
    the group is not registered with it)."""
    group = _patch_group(params)
    ident = _ident(params)
    stored = reads.baseline_by_id(ctx.session, ident)
    registered = stored is not None and any(
        r.patch_group == group and r.baseline_id == stored.id
        for r in reads.patch_groups(ctx.session)
    )
    if stored is None or not registered:
        raise AwsError(
            "InvalidResourceId", f"Patch group {group} is not registered with baseline {ident}."
        )
    with refusals(not_found="InvalidResourceId"):
        patch_groups.deregister_patch_group(
            SqlPatchGroups(ctx.session),
            SqlAuditLog(ctx.session),
            group,
            stored.operating_system,
            ctx.principal.actor,
            ctx.now,
        )
    return {"BaselineId": stored.id, "PatchGroup": group}


@operation("DescribePatchGroups", "viewer")
def describe_patch_groups(ctx: Context, params: Params) -> dict[str, Any]:
    """Every (patch group, OS) registration with its baseline's identity; filters
    NAME_PREFIX (of the patch group) and OPERATING_SYSTEM."""
    chosen = filters(params, ("NAME_PREFIX", "OPERATING_SYSTEM"))
    registrations = reads.patch_groups(ctx.session)
    for f in chosen:
        if f.key == "NAME_PREFIX":
            registrations = [
                r for r in registrations if any(r.patch_group.startswith(v) for v in f.values)
            ]
        else:
            registrations = [r for r in registrations if r.operating_system in f.values]
    stored = {b.id: b for b in reads.baselines(ctx.session)}
    defaults = _defaults(ctx.session)
    shown, token = page(registrations, params, maximum=100)
    mappings = []
    for reg in shown:
        baseline = stored[reg.baseline_id]
        found = Found(baseline.id, baseline.document, baseline)
        mappings.append(
            {"PatchGroup": reg.patch_group, "BaselineIdentity": _identity(found, defaults)}
        )
    out: dict[str, Any] = {"Mappings": mappings}
    if token:
        out["NextToken"] = token
    return out


@operation("GetPatchBaselineForPatchGroup", "viewer")
def get_patch_baseline_for_patch_group(ctx: Context, params: Params) -> dict[str, Any]:
    """The baseline a node of the patch group and OS gets: the registered one, else the
    OS's default (what node resolution does)."""
    group = _patch_group(params)
    system = _operating_system(params)
    registered = next(
        (
            r.baseline_id
            for r in reads.patch_groups(ctx.session)
            if r.patch_group == group and r.operating_system == system
        ),
        None,
    )
    found = _find(ctx.session, registered) if registered else _default_for(ctx.session, system)
    return {"BaselineId": found.id, "PatchGroup": group, "OperatingSystem": system}
