"""Parameter schemas of rule types and their validation (plain values, no pydantic).

A :class:`ParamSpec` names a parameter, its type, default, whether it is required and,
optionally, its allowed values and minimum.  :func:`validate_params` turns a raw mapping
into a complete, typed one, or raises one :class:`InputError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patchwarden.errors import InputError

TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a rule type (types as runbook parameters, reference §9)."""

    name: str
    type: str = "String"
    default: object = None
    required: bool = False
    allowed: tuple[str, ...] = ()
    minimum: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown parameter type {self.type!r}")


def _coerce(spec: ParamSpec, value: object, where: str) -> object:
    got = type(value).__name__
    if spec.type == "String":
        if not isinstance(value, str):
            raise InputError(f"{where}: must be a string, got {got}")
        if spec.allowed and value not in spec.allowed:
            raise InputError(f"{where}: must be one of {', '.join(spec.allowed)}, got {value!r}")
        return value
    if spec.type == "Integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: must be an integer, got {got}")
        if spec.minimum is not None and value < spec.minimum:
            raise InputError(f"{where}: must be at least {spec.minimum}, got {value}")
        return value
    if spec.type == "Boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InputError(f"{where}: must be true or false, got {got}")
        return value
    if spec.type == "StringList":
        if isinstance(value, str):  # Config's CSV form
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: must be a list of strings, got {got}")
        for item in value:
            if spec.allowed and item not in spec.allowed:
                raise InputError(f"{where}: {item!r} is not one of {', '.join(spec.allowed)}")
        return tuple(value)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InputError(f"{where}: must be a mapping, got {got}")
    return dict(value)


def validate_params(
    schema: Sequence[ParamSpec], raw: Mapping[str, object] | None, where: str = "Parameters"
) -> dict[str, object]:
    """Every parameter of ``schema`` with its validated value or default.

    Unknown names, missing required ones and wrong types raise :class:`InputError` with the
    field path (``where.Name``).
    """
    raw = dict(raw or {})
    known = {spec.name: spec for spec in schema}
    for name in sorted(raw):
        if name not in known:
            raise InputError(f"{where}.{name}: unknown parameter")
    values: dict[str, object] = {}
    for spec in schema:
        if raw.get(spec.name) is not None:
            values[spec.name] = _coerce(spec, raw[spec.name], f"{where}.{spec.name}")
        elif spec.required:
            raise InputError(f"{where}.{spec.name}: required parameter is missing")
        else:
            values[spec.name] = spec.default
    return values
