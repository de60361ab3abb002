"""``/api/v1/rules``, ``/api/v1/evaluations``, ``/api/v1/rule-compliance``, ``/api/v1/runbooks``
and ``/api/v1/governance/settings`` (conformance packs: :mod:`.conformance`).

Rules, runbooks and packs are created with ``POST /api/v1/apply`` (or ``PUT
/api/v1/conformance-packs/{name}`` to deploy a pack with parameters)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from patchwarden.adapters.storage.governance import views
from patchwarden.core.notify import origin
from patchwarden.core.runbook.destinations import Destinations
from patchwarden.errors import PatchwardenError
from patchwarden.pipeline.governance import operations
from patchwarden.server.auth import Admin, Operator, Principal, Viewer
from patchwarden.server.db import Now, ReadDB
from patchwarden.server.errors import bad_request, not_found
from patchwarden.server.governance.api import GovernanceDB
from patchwarden.server.schemas import Body as StrictBody

router = APIRouter(prefix="/api/v1", tags=["governance"])


class EvaluateBody(StrictBody):
    """``POST /api/v1/rules/evaluate``: one rule, or all when ``rule`` is empty."""

    rule: str | None = None


class Settings(StrictBody):
    """``PUT /api/v1/governance/settings``: what is given changes, the rest stays.
    ``WebhookDestinations`` (name → URL) replaces the whole set of destinations."""

    RunShellScriptEnabled: bool | None = None
    WebhookDestinations: dict[str, str] | None = Field(default=None, max_length=100)
    AllowHttpDestinations: bool | None = None
    AllowPrivateDestinations: bool | None = None


@router.get("/rules")
def list_rules(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Every rule with its compliance summary."""
    return {"rules": [asdict(view) for view in views.rules(session)]}


@router.get("/rules/{name}")
def get_rule(name: str, _: Viewer, session: ReadDB) -> dict[str, Any]:
    """One rule with its summary and the latest result per resource."""
    found = views.rule(session, name)
    if found is None:
        raise not_found(f"rule {name}")
    view, resources = found
    return {**asdict(view), "resources": [asdict(r) for r in resources]}


@router.delete("/rules/{name}")
def delete_rule(name: str, who: Operator, gov: GovernanceDB, at: Now) -> dict[str, Any]:
    """Delete a standalone rule (pack rules go with their pack)."""
    try:
        operations.delete_rule(gov, who.actor, name, at)
    except LookupError:
        raise not_found(f"rule {name}") from None
    except PatchwardenError as exc:
        raise bad_request(str(exc)) from None
    return {"deleted": name}


@router.post("/rules/evaluate")
def evaluate_rules(who: Operator, gov: GovernanceDB, at: Now, body: EvaluateBody) -> dict[str, Any]:
    """Evaluate one rule (or all) on every active node now."""
    try:
        counts = operations.evaluate_rules(gov, who.actor, body.rule, at)
    except LookupError:
        raise not_found(f"rule {body.rule}") from None
    return {"evaluated": dict(counts)}


@router.get("/evaluations")
def list_evaluations(
    _: Viewer,
    session: ReadDB,
    rule: str | None = None,
    resource_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Evaluation history, newest first."""
    found = views.evaluations(session, rule, resource_id, limit)
    return {"evaluations": [asdict(e) for e in found]}


@router.get("/rule-compliance")
def compliance_by_rule(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Per rule and per resource: the latest compliance (``get compliance --rules``)."""
    return {"rules": [asdict(r) for r in views.rule_compliance(session)]}


@router.get("/runbooks")
def list_runbooks(_: Viewer, session: ReadDB) -> dict[str, Any]:
    """Stored runbooks."""
    return {"runbooks": [asdict(r) for r in views.runbooks(session)]}


def _settings(shell: bool, destinations: Destinations, who: Principal) -> dict[str, Any]:
    """The settings as the API shows them: URLs in full to admins only (they may hold a
    secret token), others see scheme and host."""
    urls = dict(destinations.urls)
    if who.role != "admin":
        urls = {name: origin(url) for name, url in urls.items()}
    return {
        "RunShellScriptEnabled": shell,
        "WebhookDestinations": urls,
        "AllowHttpDestinations": destinations.allow_http,
        "AllowPrivateDestinations": destinations.allow_private,
    }


@router.put("/governance/settings")
def put_settings(body: Settings, who: Admin, gov: GovernanceDB, at: Now) -> dict[str, Any]:
    """Admin only: allow runbooks to run RunShellScript, define the webhook destinations
    ``notify`` steps may name (each change audited)."""
    if body.RunShellScriptEnabled is not None:
        operations.set_shell(gov, who.actor, body.RunShellScriptEnabled, at)
    current = gov.catalog.destinations()
    wanted = replace(
        current,
        urls=current.urls if body.WebhookDestinations is None else body.WebhookDestinations,
        allow_http=(
            current.allow_http if body.AllowHttpDestinations is None else body.AllowHttpDestinations
        ),
        allow_private=(
            current.allow_private
            if body.AllowPrivateDestinations is None
            else body.AllowPrivateDestinations
        ),
    )
    if wanted != current:
        try:
            operations.set_destinations(gov, who.actor, wanted, at)
        except PatchwardenError as exc:
            raise bad_request(str(exc)) from None
    return _settings(gov.catalog.shell_enabled(), wanted, who)


@router.get("/governance/settings")
def get_settings(who: Viewer, session: ReadDB) -> dict[str, Any]:
    """The governance switches and webhook destinations."""
    return _settings(views.shell_enabled(session), views.destinations(session), who)
