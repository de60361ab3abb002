"""Commands and invocations as the API shows them (stored values or rows alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from patchwarden.pipeline.fleet.command_records import CommandRecord
from patchwarden.pipeline.fleet.commands import shown_parameters


class ParametersLike(Protocol):
    """A command, as far as its parameters go."""

    @property
    def parameters(self) -> dict[str, Any]:
        """The command's parameters (BaselineOverride as documents)."""
        ...


class InvocationLike(Protocol):
    """What :func:`invocation_view` shows of an invocation (a record or a row)."""

    @property
    def id(self) -> str: ...
    @property
    def command_id(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_details(self) -> str: ...
    @property
    def baseline_source(self) -> str: ...
    @property
    def baseline(self) -> dict[str, Any] | None: ...
    @property
    def response_code(self) -> int | None: ...
    @property
    def output(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def claimed_by(self) -> str | None: ...
    @property
    def deliveries(self) -> int: ...


def view(cmd: CommandRecord) -> dict[str, Any]:
    """A command as the API shows it."""
    return {
        "command_id": cmd.id,
        "document_name": cmd.document_name,
        "parameters": shown_parameters(cmd.parameters),
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


def invocation_view(inv: InvocationLike, *, output: bool = True) -> dict[str, Any]:
    """An invocation as the API shows it (``output`` only with ``output``)."""
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
