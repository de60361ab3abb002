"""The document envelope (``apiVersion``, ``kind``, ``metadata``, ``spec``) and the
translation of every parsing problem into one clear :class:`~patchwarden.errors.InputError`
line that names the field path (never a pydantic or YAML traceback).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from patchwarden.errors import InputError

API_VERSION = "patchwarden/v1"


class StrictModel(BaseModel):
    """Base of every document model: unknown fields and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Metadata(StrictModel):
    """``metadata``: the resource's name, an optional description and labels."""

    name: str
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class LoadedDocument(Protocol):
    """What every loaded document offers, whatever its kind."""

    @property
    def kind(self) -> str:
        """The document's ``kind``."""
        ...

    @property
    def name(self) -> str:
        """``metadata.name``."""
        ...

    @property
    def source(self) -> str:
        """Where it came from (``file.yaml``, or ``file.yaml#2`` for the second document)."""
        ...


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("spec", "Rules", 0, "Key")`` → ``spec.Rules[0].Key``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def _describe(error: Mapping[str, Any]) -> str:
    kind, got = error["type"], type(error.get("input")).__name__
    got = {"NoneType": "null", "dict": "mapping", "list": "list"}.get(got, got)
    messages = {
        "missing": "required field is missing",
        "extra_forbidden": "unknown field",
        "string_type": f"must be a string, got {got}",
        "int_type": f"must be an integer, got {got}",
        "bool_type": f"must be true or false, got {got}",
        "list_type": f"must be a list, got {got}",
        "dict_type": f"must be a mapping, got {got}",
        "model_type": f"must be a mapping, got {got}",
    }
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, got {error.get('input')!r}"
    if kind in messages:
        return messages[kind]
    return str(error["msg"]).removeprefix("Value error, ")


def translate(exc: ValidationError, prefix: str = "") -> InputError:
    """The first problem of a pydantic error as one ``path: problem`` line."""
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return InputError(
        f"{field_path(first['loc'], prefix)}: {_describe(first)}{more if len(errors) > 1 else ''}"
    )


def parse_text(text: str, source: str, *, json_only: bool = False) -> list[Any]:
    """The documents in ``text``: JSON, or YAML with one or several ``---`` documents
    (empty documents are dropped)."""
    stripped = text.lstrip()
    if json_only or stripped.startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{source}: invalid YAML{where}: {problem}") from None


def check_envelope(raw: object, known_kinds: Sequence[str]) -> tuple[str, Metadata, object]:
    """Validate ``apiVersion``/``kind``/``metadata`` and return (kind, metadata, spec)."""
    if not isinstance(raw, dict):
        raise InputError(f"(document): must be a mapping, got {type(raw).__name__}")
    if "apiVersion" not in raw and "OperatingSystem" in raw:
        raise InputError(
            "apiVersion: required field is missing (this looks like raw "
            "'aws ssm get-patch-baseline' JSON: import it as such)"
        )
    unknown = sorted(set(raw) - {"apiVersion", "kind", "metadata", "spec"})
    if unknown:
        raise InputError(f"{unknown[0]}: unknown field")
    for key in ("apiVersion", "kind", "metadata", "spec"):
        if key not in raw:
            raise InputError(f"{key}: required field is missing")
    if raw["apiVersion"] != API_VERSION:
        raise InputError(f"apiVersion: must be {API_VERSION!r}, got {raw['apiVersion']!r}")
    kind = raw["kind"]
    if kind not in known_kinds:
        raise InputError(f"kind: must be one of {', '.join(known_kinds)}, got {kind!r}")
    try:
        metadata = Metadata.model_validate(raw["metadata"])
    except ValidationError as exc:
        raise translate(exc, "metadata") from None
    return kind, metadata, raw["spec"]
