"""What operators do to governance through the API, each one audited in the transaction
that makes it: evaluate rules now, delete a rule, switch RunShellScript, set webhook
destinations, deploy and delete packs, start and approve remediations, accept and lift
exceptions.

Unknown things are ``LookupError`` (the API's 404); refusals are ``PatchwardenError``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from patchwarden.core.runbook.destinations import Destinations, check_destinations
from patchwarden.documents.governance import ConformancePackDocument
from patchwarden.errors import InputError
from patchwarden.pipeline.governance import apply, documents, evaluation, remediation, runbooks
from patchwarden.pipeline.governance.context import Governance
from patchwarden.pipeline.governance.records import RemediationRun
from patchwarden.pipeline.governance.remediation_runs import start_manual


def evaluate_rules(gov: Governance, actor: str, rule: str | None, at: datetime) -> Counter[str]:
    """Evaluate one rule (or all) on every active node now; counts per compliance type."""
    if rule is not None and gov.documents.rule(rule) is None:
        raise LookupError(f"rule {rule}")
    counts = evaluation.on_demand(gov, at, rule)
    gov.audit.record(actor, "rules.evaluate", rule or "*", at, dict(counts))
    return counts


def delete_rule(gov: Governance, actor: str, name: str, at: datetime) -> None:
    """Delete a standalone rule (pack rules go with their pack)."""
    if not documents.delete_rule(gov.documents, name):
        raise LookupError(f"rule {name}")
    gov.audit.record(actor, "rule.delete", name, at)


def set_shell(gov: Governance, actor: str, enabled: bool, at: datetime) -> None:
    """Allow (or forbid) runbooks to run RunShellScript."""
    gov.documents.set_shell(enabled, actor, at)
    gov.audit.record(actor, "governance.shell", "RunShellScript", at, {"enabled": enabled})


def set_destinations(gov: Governance, actor: str, destinations: Destinations, at: datetime) -> None:
    """Replace the webhook destinations of ``notify`` steps (InputError: a bad name or URL;
    a destination still named by a runbook may be removed: its steps then fail)."""
    check_destinations(destinations)
    gov.documents.set_destinations(destinations, actor, at)
    detail = {
        "destinations": sorted(destinations.urls),
        "allow_http": destinations.allow_http,
        "allow_private": destinations.allow_private,
    }
    gov.audit.record(actor, "governance.destinations", "WebhookDestinations", at, detail)


def deploy_pack(
    gov: Governance,
    actor: str,
    doc: ConformancePackDocument,
    parameters: Mapping[str, object] | None,
    at: datetime,
) -> bool:
    """Deploy or update a pack with deploy-time parameters; True when created."""
    created = apply.deploy(gov, doc, parameters or {}, at)
    action = f"pack.{'create' if created else 'update'}"
    gov.audit.record(actor, action, doc.name, at, dict(parameters) if parameters else None)
    return created


def delete_pack(gov: Governance, actor: str, name: str, at: datetime) -> None:
    """Delete a pack with its rules, remediations and runbooks."""
    if not documents.delete_pack(gov.documents, name):
        raise LookupError(f"conformance pack {name}")
    gov.audit.record(actor, "pack.delete", name, at)


def start_remediation(
    gov: Governance, actor: str, rule: str, resource_id: str, at: datetime
) -> RemediationRun:
    """Start the rule's remediation runbook for the resource now (a manual run)."""
    run = start_manual(gov, rule, resource_id, at, actor)
    gov.audit.record(actor, "remediation.start", f"{rule}/{resource_id}", at)
    return run


def approve(
    gov: Governance, actor: str, run_id: str, approved: bool, comment: str, at: datetime
) -> str:
    """Approve (or reject) the waiting approve step of a remediation run, or of a runbook
    execution named by its own id; the execution's id."""
    run = gov.remediations.run(run_id)
    execution_id = str(run.execution_id) if run else run_id
    runbooks.approve(gov, execution_id, actor, approved, comment, at)
    action = "remediation.approve" if approved else "remediation.reject"
    gov.audit.record(actor, action, run_id, at)
    return execution_id


def accept_risk(
    gov: Governance,
    actor: str,
    rule: str,
    resource_id: str,
    reason: str,
    until: datetime | None,
    at: datetime,
) -> None:
    """A RemediationException: no automatic runs until ``until`` (or until lifted).

    The rule must exist (``LookupError``) and have a remediation configuration
    (``LookupError``), and the resource must be a known node (``InputError`` naming it):
    nothing is stored otherwise (AWS PutRemediationExceptions)."""
    if gov.documents.rule(rule) is None:
        raise LookupError(f"rule {rule}")
    if gov.catalog.remediation(rule) is None:
        raise LookupError(f"remediation configuration of rule {rule}")
    unknown = [node for node in (resource_id,) if not gov.nodes.exists(node)]
    if unknown:
        raise InputError(f"resource_id: unknown resource ids (no such node): {', '.join(unknown)}")
    remediation.accept_risk(gov, rule, resource_id, reason, until, at, actor)
    detail = {"reason": reason, "expires_at": str(until)}
    gov.audit.record(actor, "remediation.exception", f"{rule}/{resource_id}", at, detail)


def lift_exception(gov: Governance, actor: str, rule: str, resource_id: str, at: datetime) -> None:
    """Delete an exception: automatic remediation (with fresh attempts) resumes."""
    if not remediation.clear_exception(gov, rule, resource_id, at):
        raise LookupError(f"exception {rule}/{resource_id}")
    gov.audit.record(actor, "remediation.exception.delete", f"{rule}/{resource_id}", at)
