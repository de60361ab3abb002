"""``Component`` documents: an EC2 Image Builder component (reference §11)::

    apiVersion: patchwarden/v1
    kind: Component
    metadata: {name: hardening}
    spec:
      name: hardening
      semanticVersion: 1.0.0
      platform: Linux
      description: base hardening
      data: |                      # the AWSTOE document, as YAML text (or a mapping)
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - {name: hello, action: ExecuteBash, inputs: {commands: [echo hello]}}

A standalone component document (just ``schemaVersion``/``phases``…, as Image Builder users
keep them) is read by :func:`load_component_file` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from patchwarden.core.component import Component, parse_component
from patchwarden.core.semver import MAX_PART, SemanticVersion
from patchwarden.documents.envelope import (
    Metadata,
    StrictModel,
    check_size,
    parse_text,
    stored,
    translate,
)
from patchwarden.errors import InputError

KIND = "Component"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,127}$")
MAX_VERSION_PART = MAX_PART
MAX_DATA_CHARS = 16_000
"""Image Builder's limit of inline component data."""


class ComponentSpec(StrictModel):
    """``spec`` of a ``Component``."""

    name: str
    semanticVersion: str
    platform: Literal["Linux"] = "Linux"
    description: str = Field(default="", max_length=1024)
    type: Literal["BUILD", "TEST"] = "BUILD"
    supportedOsVersions: list[str] = Field(default_factory=list, max_length=25)
    data: str | dict[str, Any]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be 1-128 characters of a-z A-Z 0-9 _ - . (a letter or digit first)"
            )
        return value

    @field_validator("semanticVersion")
    @classmethod
    def _version(cls, value: str) -> str:
        check_semantic_version(value)
        return value

    @field_validator("data")
    @classmethod
    def _size(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, str) and len(value) > MAX_DATA_CHARS:
            raise ValueError(f"at most {MAX_DATA_CHARS} characters, got {len(value)}")
        return value


def check_semantic_version(value: str) -> tuple[int, int, int]:
    """``major.minor.patch``, each an integer 0..2^30-1 without leading zeros."""
    version = SemanticVersion.parse(value)
    return version.major, version.minor, version.patch


@dataclass(frozen=True)
class ComponentDocument:
    """A loaded ``Component``."""

    name: str
    spec: ComponentSpec
    component: Component
    source: str
    description: str | None = None
    kind: str = KIND

    def to_json(self) -> dict[str, Any]:
        """The document as stored."""
        return stored(KIND, self.name, self.spec.model_dump(mode="json"), self.description)


def parse_data(data: str | dict[str, Any], source: str, prefix: str = "") -> Component:
    """The component of ``data``: YAML/JSON text (one document) or an already parsed
    mapping.  Errors name the field path after ``prefix``."""
    raw: object = data
    if isinstance(data, str):
        try:
            docs = parse_text(data, source)
        except InputError as exc:
            text = str(exc).removeprefix(f"{source}: ")
            raise InputError(f"{prefix or '(document)'}: {text}") from None
        if len(docs) != 1:
            raise InputError(f"{prefix or '(document)'}: must hold exactly one YAML document")
        raw = docs[0]
    try:
        return parse_component(raw)
    except InputError as exc:
        if not prefix:
            raise
        text = str(exc)
        if text.startswith("(document)"):
            text = text.removeprefix("(document)")
        elif not text.startswith("["):
            text = f".{text}"
        raise InputError(f"{prefix}{text}") from None


def load_component_document(metadata: Metadata, spec: object, source: str) -> ComponentDocument:
    """Validate ``spec`` and the component document in ``spec.data``."""
    if not _NAME.match(metadata.name):
        raise InputError("metadata.name: 1-128 characters of a-z A-Z 0-9 _ - .")
    if isinstance(spec, dict) and "name" not in spec:
        spec = {**spec, "name": metadata.name}  # spec.name defaults to metadata.name
    try:
        model = ComponentSpec.model_validate(spec)
    except ValidationError as exc:
        raise translate(exc, "spec") from None
    component = parse_data(model.data, source, "spec.data")
    return ComponentDocument(metadata.name, model, component, source, metadata.description)


def load_component_file(path: Path) -> tuple[str, Component]:
    """(name, component) of a file holding one ``kind: Component`` document or a
    standalone component document (``schemaVersion``, ``phases``…)."""
    try:
        check_size(path.stat().st_size, str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    raws = parse_text(text, str(path), json_only=path.suffix == ".json")
    if len(raws) != 1:
        raise InputError(f"{path}: expected one component document, found {len(raws)}")
    (raw,) = raws
    if isinstance(raw, dict) and "apiVersion" in raw:
        from patchwarden.documents import parse_documents

        (document,) = parse_documents(text, str(path))
        if not isinstance(document, ComponentDocument):
            raise InputError(f"{path}: kind: must be Component, got {document.kind!r}")
        return document.name, document.component
    try:
        component = parse_component(raw)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return component.name or path.stem, component
