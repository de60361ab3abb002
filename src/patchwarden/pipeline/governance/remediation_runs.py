"""Remediation runs: due marks become queued runs and queued runs start as runbook
executions within the configuration's execution controls; operators start runs by hand."""

from __future__ import annotations

from datetime import datetime

from patchwarden.core import remediation as machine
from patchwarden.core.events import remediation_started
from patchwarden.core.remediation import Phase, RemediationConfig
from patchwarden.core.runbook import Status
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance import catalog, runbooks
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.records import RemediationRun, Tracked
from patchwarden.pipeline.governance.remediation import SYSTEM, current, executed, finish, save


def tick(gov: Governance, at: datetime) -> int:
    """Due marks become queued runs, expired exceptions lift; queued runs start within the
    execution controls.  Returns the number of runs started."""
    for tracked in gov.remediations.claim((Phase.MARKED, Phase.EXCEPTION)):
        config = catalog.remediation(gov.catalog, tracked.rule)
        if config is not None:
            state, decisions = machine.tick(config, tracked.state, at)
            save(gov, tracked.rule, tracked.resource_id, state, decisions, at)
    by_rule: dict[str, list[Tracked]] = {}
    for tracked in gov.remediations.claim((Phase.QUEUED,)):
        by_rule.setdefault(tracked.rule, []).append(tracked)
    started = 0
    for rule, queued in by_rule.items():
        config = catalog.remediation(gov.catalog, rule)
        if config is None:
            continue
        allowed = machine.admit(config, *_counts(gov, rule), queued=len(queued))
        for tracked in queued[:allowed]:
            start(gov, config, tracked.resource_id, at, SYSTEM)
            started += 1
    return started


def _counts(gov: Governance, rule: str) -> tuple[int, int, int]:
    """(targets in scope with a verdict, runs in progress, resources failed or excepted)."""
    return (
        gov.results.verdicts(rule),
        gov.remediations.count(rule, (Phase.IN_PROGRESS,)),
        gov.remediations.count(rule, (Phase.FAILED, Phase.EXCEPTION)),
    )


def start(
    gov: Governance, config: RemediationConfig, resource_id: str, at: datetime, actor: str
) -> RemediationRun:
    """Start the configured runbook for a queued (rule, resource)."""
    rule = config.rule
    state = current(gov, rule, resource_id)
    run = gov.remediations.add_run(rule, resource_id, state.manual_run, actor, at)
    save(gov, rule, resource_id, machine.started(state, at), (), at)
    gov.events.emit(remediation_started(at, rule, resource_id, run.id, config.runbook, actor))
    parameters = config.runbook_parameters(resource_id)
    try:
        execution = runbooks.start(gov, config.runbook, parameters, at, actor)
    except PatchwardenError as exc:
        gov.remediations.end_run(run.id, "FAILED", at, str(exc))
        finish(gov, run, False, at)
        return run
    gov.remediations.link_run(run.id, execution.id)
    if not execution.active:
        executed(gov, execution.id, execution.execution.status is Status.SUCCESS, at)
    return run


def start_manual(
    gov: Governance, rule: str, resource_id: str, at: datetime, actor: str
) -> RemediationRun:
    """``remediation start``: an operator's run, now (not counted as an automatic attempt)."""
    config = catalog.remediation(gov.catalog, rule)
    if config is None:
        raise PatchwardenError(f"rule {rule!r} has no remediation configuration")
    state, decisions = machine.start_manual(current(gov, rule, resource_id))
    if not decisions:
        raise PatchwardenError(f"a remediation of {rule!r} on {resource_id} is already running")
    save(gov, rule, resource_id, state, decisions, at)
    return start(gov, config, resource_id, at, actor)
