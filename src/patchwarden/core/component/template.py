"""``{{ ... }}`` references of component documents (Image Builder / AWSTOE syntax).

Three forms, whitespace inside the braces tolerated:

- ``{{ name }}`` — a document parameter;
- ``{{ loop.index }}`` / ``{{ loop.value }}`` (or ``{{ LOOPNAME.index }}``) — the current
  iteration of the step's loop;
- ``{{ phase.step.outputs.var }}`` — an output of a step that already ran (chaining).

A reference without a value is an error (:class:`Unresolved`), never an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from patchwarden.core.nested import strings

_REF = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class Unresolved(LookupError):
    """A reference has no value: the step using it fails with this message."""


@dataclass(frozen=True)
class Ref:
    """One parsed reference: ``kind`` is ``param``, ``loop`` or ``output``."""

    kind: str
    text: str
    name: str = ""
    """param: the parameter; loop: the loop's name (``loop`` or the loop's own name)."""
    attribute: str = ""
    """loop: ``index`` or ``value``; output: the output variable."""
    phase: str = ""
    step: str = ""


def parse_ref(text: str) -> Ref:
    """A reference's inner text as a :class:`Ref`; ValueError when it has no known form."""
    parts = [p.strip() for p in text.split(".")]
    if not all(_IDENT.match(p) for p in parts):
        raise ValueError(f"malformed reference {{{{ {text} }}}}")
    if len(parts) == 1:
        return Ref("param", text, name=parts[0])
    if len(parts) == 2 and parts[1] in ("index", "value"):
        return Ref("loop", text, name=parts[0], attribute=parts[1])
    if len(parts) == 4 and parts[2] == "outputs":
        return Ref("output", text, phase=parts[0], step=parts[1], attribute=parts[3])
    raise ValueError(
        f"unknown reference {{{{ {text} }}}} (expected {{{{ parameter }}}}, "
        "{{ loop.index }}, {{ loop.value }} or {{ phase.step.outputs.name }})"
    )


def references(value: object) -> Iterator[str]:
    """The inner text of every ``{{ … }}`` inside ``value`` (recursively)."""
    for text in strings(value):
        yield from _REF.findall(text)


@dataclass(frozen=True)
class Scope:
    """What references resolve against at one step attempt."""

    parameters: Mapping[str, str]
    outputs: Mapping[tuple[str, str], Mapping[str, str]] | None = None
    """(phase, step) → outputs of the steps that succeeded so far (None: not allowed here)."""
    loop_name: str | None = None
    loop_index: int | None = None
    loop_value: str | None = None


def lookup(ref: Ref, scope: Scope) -> str:
    """The value of one reference in ``scope``; :class:`Unresolved` when it has none."""
    if ref.kind == "param":
        if ref.name not in scope.parameters:
            raise Unresolved(f"{{{{ {ref.text} }}}}: no parameter {ref.name!r}")
        return scope.parameters[ref.name]
    if ref.kind == "loop":
        if scope.loop_index is None or ref.name not in ("loop", scope.loop_name):
            raise Unresolved(f"{{{{ {ref.text} }}}}: not inside a loop named {ref.name!r}")
        if ref.attribute == "index":
            return str(scope.loop_index)
        return "" if scope.loop_value is None else scope.loop_value
    if scope.outputs is None:
        raise Unresolved(f"{{{{ {ref.text} }}}}: step outputs can only be used in inputs")
    found = scope.outputs.get((ref.phase, ref.step))
    if found is None:
        raise Unresolved(
            f"{{{{ {ref.text} }}}}: step {ref.phase}.{ref.step} has not run successfully "
            "before this step"
        )
    if ref.attribute not in found:
        raise Unresolved(
            f"{{{{ {ref.text} }}}}: step {ref.phase}.{ref.step} has no output {ref.attribute!r}"
        )
    return found[ref.attribute]


def render(text: str, scope: Scope) -> str:
    """``text`` with every reference replaced by its value."""

    def one(match: re.Match[str]) -> str:
        try:
            ref = parse_ref(match.group(1))
        except ValueError as exc:
            raise Unresolved(str(exc)) from None
        return lookup(ref, scope)

    return _REF.sub(one, text)


def substitute(value: object, scope: Scope) -> object:
    """``value`` (strings, lists, mappings) with every reference in its strings replaced."""
    if isinstance(value, str):
        return render(value, scope)
    if isinstance(value, Mapping):
        return {key: substitute(item, scope) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(item, scope) for item in value]
    return value
