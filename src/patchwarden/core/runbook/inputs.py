"""The runbook actions and the shape of their ``inputs`` (checked at parse time; values that
are ``{{references}}`` are checked again once substituted)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from patchwarden.core.runbook.branch import check_choice
from patchwarden.errors import InputError

AGENT_DOCUMENTS = ("AWS-RunPatchBaseline", "RunPatchBaseline")
SHELL_DOCUMENTS = ("AWS-RunShellScript", "RunShellScript")
MAX_SLEEP = timedelta(days=7)
DEFAULT_APPROVE_TIMEOUT = 7 * 86400
MAX_APPROVE_TIMEOUT = 30 * 86400
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")

_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "runCommand": ({"DocumentName", "NodeId"}, {"Parameters", "TimeoutSeconds"}),
    "addTags": ({"NodeId", "Tags"}, set()),
    "removeTags": ({"NodeId", "TagKeys"}, set()),
    "sleep": (set(), {"Duration", "Timestamp"}),
    "branch": ({"Choices"}, {"Default"}),
    "approve": (set(), {"MinRequiredApprovals", "Approvers", "Message"}),
    "waitForCompliance": ({"NodeId"}, {"RuleName", "DesiredCompliance"}),
    "notify": ({"Destination"}, {"Message", "Payload"}),
}
ACTIONS = tuple(_FIELDS)


def is_reference(value: object) -> bool:
    """Whether ``value`` is a string holding a ``{{…}}`` reference."""
    return isinstance(value, str) and "{{" in value


def duration(value: object, where: str) -> timedelta:
    """``PT10M`` / ``P1DT2H`` / a number of seconds → a timedelta (at most 7 days)."""
    if isinstance(value, int) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and (match := _DURATION.match(value)) and value not in ("P", "PT"):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise InputError(f"{where}: must be an ISO 8601 duration (PT10M) or seconds, got {value!r}")
    if delta > MAX_SLEEP or delta.total_seconds() < 0:
        raise InputError(f"{where}: must be at most 7 days")
    return delta


def notify_url_refusal(step: str) -> str:
    """Why a ``notify`` step giving a ``Url`` is refused (one line, naming the step)."""
    return f"step {step}: notify takes a Destination (an admin-configured webhook name), not a Url"


def check_inputs(action: str, inputs: Mapping[str, object], where: str, step: str = "") -> None:
    """Required/unknown inputs and the literal values that can be checked before running
    (``step``: the step's name, for the messages that name it)."""
    required, optional = _FIELDS[action]
    if action == "notify" and "Url" in inputs:
        # only admin-configured destinations may be called, never a URL of the runbook's
        raise InputError(f"{where}.Url: {notify_url_refusal(step or '?')}")
    for key in sorted(required - set(inputs)):
        raise InputError(f"{where}.{key}: required input is missing")
    for key in sorted(set(inputs) - required - optional):
        raise InputError(f"{where}.{key}: unknown input for {action}")
    if action == "runCommand":
        document = inputs["DocumentName"]
        known = AGENT_DOCUMENTS + SHELL_DOCUMENTS
        if not is_reference(document) and document not in known:
            raise InputError(f"{where}.DocumentName: must be one of {', '.join(known)}")
    elif action == "sleep":
        if ("Duration" in inputs) == ("Timestamp" in inputs):
            raise InputError(f"{where}: sleep needs exactly one of Duration and Timestamp")
        if "Duration" in inputs and not is_reference(inputs["Duration"]):
            duration(inputs["Duration"], f"{where}.Duration")
    elif action == "branch":
        choices = inputs["Choices"]
        if not isinstance(choices, list) or not choices:
            raise InputError(f"{where}.Choices: must be a non-empty list")
        for index, choice in enumerate(choices):
            if not isinstance(choice, Mapping) or not isinstance(choice.get("NextStep"), str):
                raise InputError(f"{where}.Choices[{index}].NextStep: required field is missing")
            check_choice(choice, f"{where}.Choices[{index}]", top=True)
    elif action == "approve":
        count = inputs.get("MinRequiredApprovals", 1)
        if not is_reference(count) and (not isinstance(count, int) or not 1 <= count <= 10):
            raise InputError(f"{where}.MinRequiredApprovals: must be an integer from 1 to 10")
    elif action in ("addTags", "removeTags"):
        key = "Tags" if action == "addTags" else "TagKeys"
        value = inputs[key]
        kind = Mapping if action == "addTags" else list
        if not is_reference(value) and not isinstance(value, kind):
            raise InputError(f"{where}.{key}: must be a {'mapping' if kind is Mapping else 'list'}")
