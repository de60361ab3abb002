"""Runbooks (``kind: Runbook``, in the spirit of SSM Automation schema 0.3, reference §9)
validated from plain values; every problem is one :class:`InputError` naming the field.

::

    schemaVersion: "0.3"
    parameters:
      NodeId: {type: String}
      Operation: {type: String, default: Install, allowedValues: [Scan, Install]}
    mainSteps:
      - name: patch
        action: runCommand
        maxAttempts: 2
        timeoutSeconds: 3600
        onFailure: step:tell
        inputs: {DocumentName: RunPatchBaseline, NodeId: "{{NodeId}}",
                 Parameters: {Operation: "{{Operation}}"}}
        isEnd: true
      - name: tell
        action: notify
        inputs: {Destination: ops-chat, Message: "{{NodeId}} failed"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from patchwarden.core.runbook.inputs import ACTIONS, check_inputs
from patchwarden.core.runbook.params import RunbookParameter, parse_parameters
from patchwarden.core.runbook.text import references
from patchwarden.errors import InputError

STEP_NAME = re.compile(r"^[a-zA-Z0-9_]{1,128}$")
_STEP_FIELDS = {
    "name",
    "action",
    "inputs",
    "outputs",
    "maxAttempts",
    "timeoutSeconds",
    "onFailure",
    "nextStep",
    "isEnd",
    "description",
    "isCritical",
}
MAX_STEPS = 100


@dataclass(frozen=True)
class StepOutput:
    """``outputs[]`` of a step: a name and a ``$.a.b`` selector into the action's result."""

    name: str
    selector: str
    type: str = "String"


@dataclass(frozen=True)
class Step:
    """One validated ``mainSteps`` entry."""

    name: str
    action: str
    inputs: Mapping[str, object] = field(default_factory=dict)
    outputs: tuple[StepOutput, ...] = ()
    max_attempts: int = 1
    timeout_seconds: int | None = None
    on_failure: str = "Abort"
    """``Abort``, ``Continue`` or ``step:NAME``."""
    next_step: str | None = None
    is_end: bool = False


@dataclass(frozen=True)
class Runbook:
    """A validated runbook."""

    name: str
    parameters: tuple[RunbookParameter, ...]
    steps: tuple[Step, ...]
    description: str = ""
    outputs: tuple[str, ...] = ()

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        return next(step for step in self.steps if step.name == name)

    def after(self, name: str) -> str | None:
        """The step following ``name`` in the list, ``None`` after the last."""
        names = [step.name for step in self.steps]
        index = names.index(name) + 1
        return names[index] if index < len(names) else None


def _int(raw: Mapping[str, object], key: str, where: str, default: int | None) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}.{key}: must be a positive integer, got {value!r}")
    return value


def _outputs(raw: object, where: str) -> tuple[StepOutput, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError(f"{where}: must be a list")
    result = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str):
            raise InputError(f"{where}[{index}].Name: required field is missing")
        selector = item.get("Selector", f"$.{item['Name']}")
        if not isinstance(selector, str) or not selector.startswith("$"):
            raise InputError(f"{where}[{index}].Selector: must be a $.path selector")
        result.append(StepOutput(str(item["Name"]), selector, str(item.get("Type", "String"))))
    return tuple(result)


def _step(raw: object, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - _STEP_FIELDS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not STEP_NAME.match(name):
        raise InputError(f"{where}.name: must match {STEP_NAME.pattern}, got {name!r}")
    action = str(raw.get("action", "")).removeprefix("aws:")
    if action not in ACTIONS:
        raise InputError(f"{where}.action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    inputs = raw.get("inputs", {})
    if not isinstance(inputs, Mapping):
        raise InputError(f"{where}.inputs: must be a mapping")
    check_inputs(action, inputs, f"{where}.inputs", name)
    on_failure = raw.get("onFailure", "Abort")
    if not isinstance(on_failure, str) or not (
        on_failure in ("Abort", "Continue") or on_failure.startswith("step:")
    ):
        raise InputError(f"{where}.onFailure: must be Abort, Continue or step:NAME")
    next_step, is_end = raw.get("nextStep"), raw.get("isEnd", False)
    if next_step is not None and not isinstance(next_step, str):
        raise InputError(f"{where}.nextStep: must be a step name")
    if not isinstance(is_end, bool):
        raise InputError(f"{where}.isEnd: must be true or false")
    return Step(
        name=name,
        action=action,
        inputs=dict(inputs),
        outputs=_outputs(raw.get("outputs"), f"{where}.outputs"),
        max_attempts=_int(raw, "maxAttempts", where, 1) or 1,
        timeout_seconds=_int(raw, "timeoutSeconds", where, None),
        on_failure=on_failure,
        next_step=next_step,
        is_end=is_end,
    )


def _check_links(book: Runbook, where: str) -> None:
    names = {step.name for step in book.steps}
    declared = {p.name for p in book.parameters}
    for index, step in enumerate(book.steps):
        at = f"{where}.mainSteps[{index}]"
        targets: list[tuple[object, str]] = [(step.next_step, "nextStep")]
        if step.on_failure.startswith("step:"):
            targets.append((step.on_failure.removeprefix("step:"), "onFailure"))
        if step.action == "branch":
            targets += [(c.get("NextStep"), "inputs.Choices") for c in step.inputs["Choices"]]  # type: ignore[attr-defined]
            targets.append((step.inputs.get("Default"), "inputs.Default"))
        for target, key in targets:
            if target is not None and target not in names:
                raise InputError(f"{at}.{key}: no step named {target!r}")
        for ref in references(step.inputs):
            head = ref.split(".", 1)[0]
            if "." in ref and head not in names and head not in ("automation", "global"):
                raise InputError(f"{at}.inputs: {{{{{ref}}}}} names no step")
            if "." not in ref and ref not in declared:
                raise InputError(f"{at}.inputs: {{{{{ref}}}}} is not a declared parameter")


def parse_runbook(name: str, spec: object, where: str = "spec") -> Runbook:
    """A :class:`Runbook` from a document's ``spec``."""
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}: must be a mapping")
    unknown = sorted(
        set(spec) - {"schemaVersion", "description", "parameters", "mainSteps", "outputs"}
    )
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    if str(spec.get("schemaVersion", "0.3")) != "0.3":
        raise InputError(f"{where}.schemaVersion: must be '0.3'")
    steps_raw = spec.get("mainSteps")
    if not isinstance(steps_raw, list) or not steps_raw or len(steps_raw) > MAX_STEPS:
        raise InputError(f"{where}.mainSteps: must be a list of 1 to {MAX_STEPS} steps")
    steps = tuple(_step(raw, f"{where}.mainSteps[{i}]") for i, raw in enumerate(steps_raw))
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if step.name in seen:
            raise InputError(f"{where}.mainSteps[{index}].name: {step.name!r} is used twice")
        seen.add(step.name)
    outputs = spec.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise InputError(f"{where}.outputs: must be a list of step.Output names")
    book = Runbook(
        name=name,
        parameters=parse_parameters(spec.get("parameters"), f"{where}.parameters"),
        steps=steps,
        description=str(spec.get("description", "")),
        outputs=tuple(outputs),
    )
    _check_links(book, where)
    return book
