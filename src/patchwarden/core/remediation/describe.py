"""What an automatic remediation will do, and when, in one line (``patchwarden apply``
prints it for every document that configures one):

    rule essentials-patch-compliance: automatic remediation 'essentials-install-patches'
    (RunPatchBaseline Install, RebootIfNeeded; waitForCompliance) after 300 s on
    NON_COMPLIANT nodes
"""

from __future__ import annotations

from collections.abc import Mapping

from patchwarden.core.remediation.config import RemediationConfig
from patchwarden.core.runbook import Runbook

PATCH_DEFAULTS = {"Operation": "Scan", "RebootOption": "RebootIfNeeded"}
"""What RunPatchBaseline does when a parameter is not given (as the agent runs it)."""


def automatic_action(config: RemediationConfig, book: Runbook | None) -> str | None:
    """One line saying what ``config`` starts on its own and when; ``None`` when it is not
    automatic."""
    if not config.automatic:
        return None
    what = _steps(config, book) if book is not None else "runbook not stored yet"
    return (
        f"rule {config.rule}: automatic remediation {config.runbook!r} ({what}) "
        f"after {config.grace_seconds} s on NON_COMPLIANT nodes "
        f"(up to {config.maximum_automatic_attempts} attempts, "
        f"{config.concurrency_percentage} % of nodes at a time)"
    )


def _steps(config: RemediationConfig, book: Runbook) -> str:
    values: dict[str, object] = {p.name: p.default for p in book.parameters if p.default}
    values.update(
        {k: v[0] if len(v) == 1 else ",".join(v) for k, v in config.parameters.items() if v}
    )
    shown = []
    for step in book.steps:
        if step.action == "runCommand":
            shown.append(_command(step.inputs, values))
        elif step.action in ("addTags", "removeTags", "notify", "approve"):
            shown.append(_other(step.action, step.inputs, values))
        elif step.action in ("waitForCompliance", "sleep"):
            shown.append(step.action)
    return "; ".join(shown) or "no action"


def _value(raw: object, values: Mapping[str, object]) -> str:
    text = str(raw)
    if text.startswith("{{") and text.endswith("}}"):
        found = values.get(text[2:-2].strip())
        return str(found) if found is not None else text
    return text


def _command(inputs: Mapping[str, object], values: Mapping[str, object]) -> str:
    document = _value(inputs.get("DocumentName", ""), values)
    params = inputs.get("Parameters")
    given = params if isinstance(params, Mapping) else {}
    operation = _value(given.get("Operation", PATCH_DEFAULTS["Operation"]), values)
    if operation == "Install":
        reboot = _value(given.get("RebootOption", PATCH_DEFAULTS["RebootOption"]), values)
        return f"{document} Install, {reboot}"
    return f"{document} {operation}"


def _other(action: str, inputs: Mapping[str, object], values: Mapping[str, object]) -> str:
    if action == "addTags":
        tags = inputs.get("Tags")
        if isinstance(tags, Mapping):
            shown = ", ".join(f"{k}={_value(v, values)}" for k, v in tags.items())
            return f"addTags {shown}"
    if action == "removeTags":
        keys = inputs.get("TagKeys")
        if isinstance(keys, list):
            return f"removeTags {', '.join(str(k) for k in keys)}"
    if action == "notify":
        return f"notify {inputs.get('Destination', '')}".rstrip()
    if action == "approve":
        return "wait for an operator's approval"
    return action
