"""Documents at the edge: YAML/JSON files with the envelope ``apiVersion: patchwarden/v1``,
``kind``, ``metadata`` and ``spec`` (AWS field names inside ``spec``).

:data:`KINDS` is the explicit registry of the kinds this version understands; each entry
turns a document's metadata and spec into a core value.  Every malformed document raises
one :class:`~patchwarden.errors.InputError` line naming the file and field path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.documents.baseline import (
    BaselineDocument,
    from_aws_json,
    load_baseline_document,
    to_document,
)
from patchwarden.documents.envelope import (
    LoadedDocument,
    Metadata,
    check_envelope,
    check_size,
    parse_text,
)
from patchwarden.errors import InputError

if TYPE_CHECKING:
    from patchwarden.core.baseline import PatchBaseline


def load_suppression_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: Suppression`` (:mod:`patchwarden.documents.suppression`, loaded on first use)."""
    from patchwarden.documents.suppression import load_suppression_document as load

    return load(metadata, spec, source)


def load_window_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: MaintenanceWindow`` (:mod:`patchwarden.documents.window`, loaded on first use)."""
    from patchwarden.documents.window import load_window_document as load

    return load(metadata, spec, source)


def load_component_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: Component`` (:mod:`patchwarden.documents.component`, loaded on first use)."""
    from patchwarden.documents.component import load_component_document as load

    return load(metadata, spec, source)


def load_image_recipe_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: ImageRecipe`` (:mod:`patchwarden.documents.image`, loaded on first use)."""
    from patchwarden.documents.image import load_recipe_document as load

    return load(metadata, spec, source)


def load_image_pipeline_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: ImagePipeline`` (:mod:`patchwarden.documents.image`, loaded on first use)."""
    from patchwarden.documents.image import load_pipeline_document as load

    return load(metadata, spec, source)


def load_distribution_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: DistributionConfiguration`` (:mod:`patchwarden.documents.image`, loaded on
    first use)."""
    from patchwarden.documents.image import load_distribution_document as load

    return load(metadata, spec, source)


def load_lifecycle_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: LifecyclePolicy`` (:mod:`patchwarden.documents.image`, loaded on first use)."""
    from patchwarden.documents.image import load_lifecycle_document as load

    return load(metadata, spec, source)


def load_deployment_document(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
    """``kind: Deployment`` (:mod:`patchwarden.documents.deployment`, loaded on first use)."""
    from patchwarden.documents.deployment import load_deployment_document as load

    return load(metadata, spec, source)


def _governance(kind: str) -> Callable[[Metadata, object, str], LoadedDocument]:
    """``kind: Rule | Runbook | ConformancePack`` (:mod:`patchwarden.documents.governance`,
    loaded on first use)."""

    def load(metadata: Metadata, spec: object, source: str) -> LoadedDocument:
        from patchwarden.documents import governance

        loaders: dict[str, Callable[[Metadata, object, str], LoadedDocument]] = {
            "Rule": governance.load_rule_document,
            "Runbook": governance.load_runbook_document,
            "ConformancePack": governance.load_pack_document,
        }
        return loaders[kind](metadata, spec, source)

    return load


KINDS: dict[str, Callable[[Metadata, object, str], LoadedDocument]] = {
    "PatchBaseline": load_baseline_document,
    "Suppression": load_suppression_document,
    "MaintenanceWindow": load_window_document,
    "Rule": _governance("Rule"),
    "Runbook": _governance("Runbook"),
    "ConformancePack": _governance("ConformancePack"),
    "Component": load_component_document,
    "ImageRecipe": load_image_recipe_document,
    "ImagePipeline": load_image_pipeline_document,
    "DistributionConfiguration": load_distribution_document,
    "LifecyclePolicy": load_lifecycle_document,
    "Deployment": load_deployment_document,
}
"""kind → loader of a document from its (metadata, spec, source)."""

baseline_from_aws_json = from_aws_json
"""Alias of :func:`from_aws_json`."""

SUFFIXES = (".yaml", ".yml", ".json")


def parse_documents(text: str, source: str = "<string>") -> list[LoadedDocument]:
    """Every document in ``text`` (one, or several separated by ``---``)."""
    raws = parse_text(text, source, json_only=source.endswith(".json"))
    documents = []
    for index, raw in enumerate(raws, start=1):
        where = source if len(raws) == 1 else f"{source}#{index}"
        try:
            kind, metadata, spec = check_envelope(raw, tuple(KINDS))
            document = KINDS[kind](metadata, spec, where)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        documents.append(document)
    return documents


def load_documents(path: Path) -> list[LoadedDocument]:
    """The documents of a file, or of every ``.yaml``/``.yml``/``.json`` file directly in a
    directory (in name order).  A (kind, name) given twice is an error."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"{path}: no .yaml, .yml or .json files in this directory")
    elif path.exists():
        files = [path]
    else:
        raise InputError(f"{path}: no such file or directory")
    documents: list[LoadedDocument] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        try:
            check_size(file.stat().st_size, str(file))
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{file}: cannot read: {exc}") from None
        for document in parse_documents(text, str(file)):
            key = (document.kind, document.name)
            if key in seen:
                raise InputError(
                    f"{document.source}: {document.kind} {document.name!r} "
                    f"is already defined in {seen[key]}"
                )
            seen[key] = document.source
            documents.append(document)
    if not documents:
        raise InputError(f"{path}: contains no documents")
    return documents


def baseline_of(document: dict[str, Any] | None) -> PatchBaseline | None:
    """The baseline of a resolved ``PatchBaseline`` document as the server delivers it with
    an invocation (``None``: the predefined default of the node's OS); the agent and the
    server's evaluation of a node component's facts both read it here."""
    if document is None:
        return None
    (doc,) = parse_documents(json.dumps(document), "baseline.json")
    if not isinstance(doc, BaselineDocument):
        raise InputError("the server sent a document that is not a PatchBaseline")
    return doc.baseline


__all__ = [
    "KINDS",
    "BaselineDocument",
    "LoadedDocument",
    "baseline_from_aws_json",
    "baseline_of",
    "from_aws_json",
    "load_documents",
    "parse_documents",
    "to_document",
]
