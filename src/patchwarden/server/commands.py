"""Sending and cancelling commands: target resolution, rate limits, pinned snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchwarden.adapters.storage import dispatch, nodes
from patchwarden.adapters.storage.secrets import new_uuid
from patchwarden.adapters.storage.tables import Command, Invocation, Node, NodeTag
from patchwarden.core import rollout
from patchwarden.core.rollout import Details, InvocationStatus
from patchwarden.server.baselines import override_documents, resolve
from patchwarden.server.command_schema import SendCommand


def target_nodes(session: Session, body: SendCommand) -> list[Node]:
    """InstanceIds, or Targets: keys AND-ed, values OR-ed (``InstanceIds=*`` = all)."""
    if body.InstanceIds:
        return nodes.active_nodes(session, ids=body.InstanceIds)
    ids: list[str] = []
    tags: dict[str, list[str]] = {}
    groups: list[str] = []
    query = select(Node).where(Node.deregistered_at.is_(None)).order_by(Node.id)
    for target in body.Targets:
        if target.Key == "InstanceIds":
            if target.Values != ["*"]:
                ids.extend(target.Values)
        elif target.Key == "tag-key":
            for key in target.Values:
                query = query.where(Node.id.in_(select(NodeTag.node_id).where(NodeTag.key == key)))
        elif target.Key == "PatchGroup":
            groups.extend(target.Values)
        else:
            tags.setdefault(target.Key.removeprefix("tag:"), []).extend(target.Values)
    query = nodes.filtered(query, ids=ids, tags=tags, patch_groups=groups)
    return list(session.scalars(query))


def resolver(session: Session, node: Node, cmd: Command) -> tuple[dict[str, Any] | None, str]:
    """Baseline for ``node`` under ``cmd``'s BaselineOverride (or its patch group/default)."""
    return resolve(session, node, cmd.parameters.get("BaselineOverride"))


def send(session: Session, body: SendCommand, actor: str, at: datetime) -> Command:
    """Create the command and one Pending invocation per target node.  With a SnapshotId
    every node's baseline is resolved now, once (pinned); otherwise at delivery."""
    params = body.Parameters.model_dump(exclude_none=True)
    if body.Parameters.BaselineOverride is not None:
        params["BaselineOverride"] = override_documents(body.Parameters.BaselineOverride, session)
    targets = target_nodes(session, body)
    total = len(targets)
    cmd = Command(
        id=new_uuid(),
        document_name=body.DocumentName,
        parameters=params,
        targets={
            "InstanceIds": body.InstanceIds,
            "Targets": [t.model_dump() for t in body.Targets],
        },
        comment=body.Comment,
        max_concurrency=body.MaxConcurrency,
        max_errors=body.MaxErrors,
        concurrency_limit=rollout.limit(body.MaxConcurrency, total, concurrency=True),
        error_limit=rollout.limit(body.MaxErrors, total, concurrency=False),
        timeout_seconds=body.TimeoutSeconds,
        execution_timeout_seconds=body.ExecutionTimeoutSeconds,
        status=rollout.CommandStatus.PENDING,
        status_details=Details.PENDING,
        target_count=total,
        requested_at=at,
        created_by=actor,
    )
    session.add(cmd)
    session.flush()
    for seq, node in enumerate(targets):
        inv = Invocation(
            id=new_uuid(),
            command_id=cmd.id,
            node_id=node.id,
            seq=seq,
            status=InvocationStatus.PENDING,
            status_details=Details.PENDING,
            created_at=at,
        )
        if body.Parameters.SnapshotId:
            inv.baseline, inv.baseline_source = resolver(session, node, cmd)
        session.add(inv)
    session.flush()
    dispatch.refresh(session, cmd, at)
    return cmd


def _parameters(params: dict[str, Any]) -> dict[str, Any]:
    shown = dict(params)
    if "BaselineOverride" in shown:  # name the documents rather than repeat them
        shown["BaselineOverride"] = [d["metadata"]["name"] for d in shown["BaselineOverride"]]
    return shown


def view(cmd: Command) -> dict[str, Any]:
    """A command as the API shows it."""
    return {
        "command_id": cmd.id,
        "document_name": cmd.document_name,
        "parameters": _parameters(cmd.parameters),
        "targets": cmd.targets,
        "comment": cmd.comment,
        "max_concurrency": cmd.max_concurrency,
        "max_errors": cmd.max_errors,
        "timeout_seconds": cmd.timeout_seconds,
        "execution_timeout_seconds": cmd.execution_timeout_seconds,
        "status": cmd.status,
        "status_details": cmd.status_details,
        "target_count": cmd.target_count,
        "completed_count": cmd.completed_count,
        "error_count": cmd.error_count,
        "delivery_timed_out_count": cmd.delivery_timed_out_count,
        "requested_at": cmd.requested_at,
        "requested_by": cmd.created_by,
    }


def invocation_view(inv: Invocation, *, output: bool = True) -> dict[str, Any]:
    """An invocation as the API shows it."""
    out: dict[str, Any] = {
        "invocation_id": inv.id,
        "command_id": inv.command_id,
        "node_id": inv.node_id,
        "status": inv.status,
        "status_details": inv.status_details,
        "baseline_source": inv.baseline_source,
        "baseline": (inv.baseline or {}).get("metadata", {}).get("name"),
        "response_code": inv.response_code,
        "requested_at": inv.created_at,
        "started_at": inv.started_at,
        "finished_at": inv.finished_at,
        "delivered_by": inv.claimed_by,
        "deliveries": inv.deliveries,
    }
    if output:
        out["output"] = inv.output
    return out
