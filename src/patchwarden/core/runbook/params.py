"""Runbook ``parameters`` (reference §9): declaration and resolution of given values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from patchwarden.errors import InputError

TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
_NAME = re.compile(r"^[a-zA-Z0-9_]{1,128}$")


@dataclass(frozen=True)
class RunbookParameter:
    """One declared parameter; ``default`` ``None`` with ``required`` means it must be given."""

    name: str
    type: str = "String"
    default: object = None
    required: bool = True
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str = ""
    description: str = ""


def parse_parameters(raw: object, where: str) -> tuple[RunbookParameter, ...]:
    """The declared parameters of a runbook spec."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: must be a mapping of name → declaration")
    result = []
    for name, body in raw.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(f"{at}: parameter names match {_NAME.pattern}")
        if not isinstance(body, Mapping):
            raise InputError(f"{at}: must be a mapping")
        unknown = sorted(
            set(body) - {"type", "default", "allowedValues", "allowedPattern", "description"}
        )
        if unknown:
            raise InputError(f"{at}.{unknown[0]}: unknown field")
        kind = body.get("type", "String")
        if kind not in TYPES:
            raise InputError(f"{at}.type: must be one of {', '.join(TYPES)}, got {kind!r}")
        allowed = body.get("allowedValues", [])
        if not isinstance(allowed, list):
            raise InputError(f"{at}.allowedValues: must be a list")
        pattern = str(body.get("allowedPattern", ""))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InputError(f"{at}.allowedPattern: invalid regular expression: {exc}") from None
        param = RunbookParameter(
            name,
            str(kind),
            body.get("default"),
            "default" not in body,
            tuple(str(v) for v in allowed),
            pattern,
            str(body.get("description", "")),
        )
        if param.default is not None:
            coerce(param, param.default, f"{at}.default")
        result.append(param)
    return tuple(result)


def coerce(param: RunbookParameter, value: object, where: str) -> object:
    """``value`` checked against the declaration (strings convert to Integer/Boolean)."""
    kind = param.type
    if kind == "Integer" and isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if kind == "Boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if kind == "StringList" and isinstance(value, str):
        value = [value]
    ok = {
        "String": isinstance(value, str),
        "Integer": isinstance(value, int) and not isinstance(value, bool),
        "Boolean": isinstance(value, bool),
        "StringList": isinstance(value, list | tuple) and all(isinstance(v, str) for v in value),
        "MapList": isinstance(value, list) and all(isinstance(v, Mapping) for v in value),
        "StringMap": isinstance(value, Mapping),
    }[kind]
    if not ok:
        raise InputError(f"{where}: must be a {kind}, got {type(value).__name__}")
    items = list(value) if kind == "StringList" else [value]  # type: ignore[call-overload]
    for item in items:
        if param.allowed_values and str(item) not in param.allowed_values:
            raise InputError(
                f"{where}: must be one of {', '.join(param.allowed_values)}, got {item!r}"
            )
        if param.allowed_pattern and not re.fullmatch(param.allowed_pattern, str(item)):
            raise InputError(f"{where}: {item!r} does not match {param.allowed_pattern}")
    return list(value) if kind == "StringList" else value  # type: ignore[call-overload]


def resolve(
    declared: tuple[RunbookParameter, ...], given: Mapping[str, object] | None
) -> dict[str, object]:
    """The execution's parameter values: given ones checked, defaults filled in."""
    given = dict(given or {})
    names = {p.name for p in declared}
    for name in sorted(given):
        if name not in names:
            raise InputError(f"Parameters.{name}: not a parameter of this runbook")
    values: dict[str, object] = {}
    for param in declared:
        if param.name in given:
            values[param.name] = coerce(param, given[param.name], f"Parameters.{param.name}")
        elif not param.required:
            values[param.name] = param.default
        else:
            raise InputError(f"Parameters.{param.name}: required parameter is missing")
    return values
