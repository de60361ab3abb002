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
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import Node

from patchwarden.errors import InputError

API_VERSION = "patchwarden/v1"

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""A document file (or request body) larger than this is refused before parsing."""
MAX_DEPTH = 64
"""Lists and mappings nest at most this deep (aliases included)."""
MAX_ALIAS_NODES = 10_000
"""YAML aliases may repeat at most this many nodes in all (a "billion laughs" is refused)."""


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


def stored(kind: str, name: str, spec: object, description: str | None) -> dict[str, Any]:
    """A document as stored and served back: ``apiVersion``, ``kind``, ``metadata`` (name,
    description when there is one) and ``spec``."""
    meta: dict[str, Any] = {"name": name}
    if description:
        meta["description"] = description
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


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


class _Refused(yaml.YAMLError):
    """A limit of :class:`_BoundedLoader` was hit (the message is the whole problem)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses, while composing, nesting deeper than
    :data:`MAX_DEPTH`, aliases that repeat more than :data:`MAX_ALIAS_NODES` nodes in all,
    and an alias inside its own anchor (a recursive structure)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_nodes = 0  # nodes repeated by aliases so far
        self._counted = 0  # nodes composed, an alias counting the nodes it repeats
        self._shapes: dict[str, tuple[int, int]] = {}  # finished anchor → (nodes, height)
        self._open: list[int] = []  # per open collection: the height of its tallest child

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor: str | None = getattr(event, "anchor", None)
        if isinstance(event, AliasEvent):
            if anchor is not None and anchor in self.anchors:
                if anchor not in self._shapes:
                    raise _Refused(f"the YAML alias *{anchor} refers to itself")
                nodes, height = self._shapes[anchor]
                self._alias_nodes += nodes
                if self._alias_nodes > MAX_ALIAS_NODES:
                    raise _Refused(
                        f"YAML aliases repeat more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                    )
                self._check_depth(len(self._open) + height)
                self._counted += nodes
                self._finished(height)
            return super().compose_node(parent, index)
        before = self._counted
        collection = isinstance(event, CollectionStartEvent)
        if anchor is not None:
            self._shapes.pop(anchor, None)
        if collection:
            self._open.append(0)
            self._check_depth(len(self._open))
        node = super().compose_node(parent, index)
        height = self._open.pop() + 1 if collection else 0
        self._counted += 1
        self._finished(height)
        if anchor is not None:
            self._shapes[anchor] = (self._counted - before, height)
        return node

    def _finished(self, height: int) -> None:
        if self._open:
            self._open[-1] = max(self._open[-1], height)

    @staticmethod
    def _check_depth(depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")


def _json_depth(value: object) -> int:
    """How deep lists and mappings nest in a parsed JSON value (iteratively)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            stack.extend((child, depth) for child in item)
    return deepest


def _size(text: str) -> int:
    if len(text) > MAX_DOCUMENT_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def check_size(size: int, source: str) -> None:
    """InputError when a document of ``size`` bytes is larger than allowed."""
    if size > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{source}: too large ({size} bytes; a document may have at most "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB)"
        )


def parse_text(text: str, source: str, *, json_only: bool = False) -> list[Any]:
    """The documents in ``text``: JSON, or YAML with one or several ``---`` documents
    (empty documents are dropped).  Hostile input is refused with one line: more than
    :data:`MAX_DOCUMENT_BYTES`, nesting deeper than :data:`MAX_DEPTH`, YAML aliases that
    repeat more than :data:`MAX_ALIAS_NODES` nodes."""
    check_size(_size(text), source)
    stripped = text.lstrip()
    if json_only or stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            value = None
            depth = MAX_DEPTH + 1
        else:
            depth = _json_depth(value)
        if depth > MAX_DEPTH:
            raise InputError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        return [value]
    try:
        loader = _BoundedLoader(text)  # refuses control characters at once
    except yaml.reader.ReaderError as exc:
        problem = str(exc).splitlines()[0]
        raise InputError(
            f"{source}: invalid YAML at character {exc.position + 1}: {problem}"
        ) from None
    try:
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            document = loader.get_data()
            if document is not None:
                documents.append(document)
        return documents
    except _Refused as exc:
        raise InputError(f"{source}: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{source}: invalid YAML{where}: {problem}") from None
    finally:
        loader.dispose()


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
