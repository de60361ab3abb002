"""Remediation state per (rule, resource): the core state machine fed with evaluations,
run outcomes and exceptions.  Runs are started by :mod:`.remediation_runs`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from patchwarden.core import remediation as machine
from patchwarden.core.events import remediation_finished, remediation_queued
from patchwarden.core.remediation import Decision, Phase, RecordException, RemediationState
from patchwarden.pipeline.governance import catalog
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.records import RemediationRun

SYSTEM = "system:remediation"
"""The actor of automatic remediation."""


def lock_order(gov: Governance, execution_ids: Sequence[str]) -> list[str]:
    """``execution_ids`` in the order their ends change remediation states: by resource,
    then rule.

    Every change of a state locks it until the transaction ends
    (:meth:`~patchwarden.pipeline.governance.ports.RemediationStore.state`), so two
    transactions that lock the same states in different orders can wait for each other
    (PostgreSQL then ends one).  A node's report evaluates its node rule by rule, an
    evaluation of many resources goes resource by resource (:func:`.evaluation.run`), and
    runbook executions that end in one transaction end in this order.  Executions of no
    remediation run change no state: they come first, as given."""
    runs = gov.remediations.runs_of(execution_ids)

    def key(execution_id: str) -> tuple[bool, str, str]:
        run = runs.get(execution_id)
        return (True, run.resource_id, run.rule) if run else (False, "", "")

    return sorted(execution_ids, key=key)


def save(
    gov: Governance,
    rule: str,
    resource_id: str,
    state: RemediationState,
    decisions: Sequence[Decision],
    at: datetime,
    actor: str = SYSTEM,
) -> None:
    """Store ``state`` and record the exceptions ``decisions`` ask for; an exception no
    longer held by the state is deleted.  A resource newly marked for an automatic run is
    announced (``remediation.queued``, with the time the run is due)."""
    if state.phase is Phase.MARKED:
        before = gov.remediations.state(rule, resource_id)
        if before is None or before.phase is not Phase.MARKED:
            planned = state.due_at or at
            gov.events.emit(remediation_queued(at, rule, resource_id, planned))
    gov.remediations.save(rule, resource_id, state, at)
    for decision in decisions:
        if isinstance(decision, RecordException):
            gov.remediations.put_exception(rule, resource_id, decision, actor, at)
    if not state.in_exception:
        gov.remediations.drop_exception(rule, resource_id)


def current(gov: Governance, rule: str, resource_id: str) -> RemediationState:
    """The state of a (rule, resource); a fresh one when it was never tracked."""
    return gov.remediations.state(rule, resource_id) or RemediationState()


def observe(gov: Governance, rule: str, node_id: str, compliance: str, at: datetime) -> None:
    """A new evaluation: marks, unmarks or records an exception (no run starts here)."""
    config = catalog.remediation(gov.catalog, rule)
    if config is None:
        return
    state, decisions = machine.observe(config, current(gov, rule, node_id), compliance, at)
    save(gov, rule, node_id, state, decisions, at)


def executed(gov: Governance, execution_id: str, succeeded: bool, at: datetime) -> None:
    """A runbook execution ended: the run it belongs to (if any) ends with it."""
    run = gov.remediations.run_of(execution_id)
    if run is None or run.ended:
        return
    gov.remediations.end_run(run.id, "SUCCEEDED" if succeeded else "FAILED", at)
    finish(gov, run, succeeded, at)


def finish(gov: Governance, run: RemediationRun, succeeded: bool, at: datetime) -> None:
    """Feed a run's outcome to the state machine (it may record an exception)."""
    gov.events.emit(remediation_finished(at, run.rule, run.resource_id, run.id, succeeded))
    config = catalog.remediation(gov.catalog, run.rule)
    if config is None:
        return
    state = current(gov, run.rule, run.resource_id)
    state, decisions = machine.finished(config, state, succeeded, at)
    save(gov, run.rule, run.resource_id, state, decisions, at)


def accept_risk(
    gov: Governance,
    rule: str,
    node_id: str,
    reason: str,
    until: datetime | None,
    at: datetime,
    actor: str,
) -> None:
    """A manual RemediationException (time-boxed risk acceptance)."""
    state, decisions = machine.accept_risk(current(gov, rule, node_id), reason, until, at)
    save(gov, rule, node_id, state, decisions, at, actor)


def clear_exception(gov: Governance, rule: str, node_id: str, at: datetime) -> bool:
    """Delete an exception; False when there was none."""
    state = gov.remediations.state(rule, node_id)
    if state is None or not gov.remediations.has_exception(rule, node_id):
        return False
    config = catalog.remediation(gov.catalog, rule)
    if config is None:
        gov.remediations.drop_exception(rule, node_id)
        return True
    state, decisions = machine.clear_exception(config, state, at)
    save(gov, rule, node_id, state, decisions, at)
    return True
