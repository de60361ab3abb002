"""OCI and Docker image manifests, indexes and configs: parsing and choosing a platform."""

from __future__ import annotations

import hashlib
import json
import platform as host_platform
from dataclasses import dataclass
from typing import Any

from patchwarden.errors import InputError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
REF_NAME = "org.opencontainers.image.ref.name"
MAX_JSON = 8 << 20
"""Largest manifest, index or config read (bytes)."""

_MACHINES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
_DEB_ARCHES = {"386": "i386", "arm": "armhf", "ppc64le": "ppc64el", "mips64le": "mips64el"}


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(data: bytes, digest: str, label: str) -> None:
    """An :class:`InputError` when ``data`` does not match ``digest`` (sha256 only)."""
    if digest.startswith("sha256:") and digest_of(data) != digest:
        raise InputError(f"{label}: content does not match its digest {digest}")


def load_json(data: bytes, label: str) -> dict[str, Any]:
    """A JSON object; anything else is an :class:`InputError` naming ``label``."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise InputError(f"{label}: not valid JSON") from None
    if not isinstance(value, dict):
        raise InputError(f"{label}: not a JSON object")
    return value


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int | None = None
    platform: str = ""
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str:
        return dict(self.annotations).get(key, "")


def descriptor(raw: Any, label: str) -> Descriptor:
    """A descriptor object of a manifest or index."""
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise InputError(f"{label}: a descriptor without a digest")
    digest = raw["digest"]
    if ":" not in digest or "/" in digest or ".." in digest:
        raise InputError(f"{label}: malformed digest {digest!r}")
    size = raw.get("size")
    plat = raw.get("platform")
    annotations = raw.get("annotations")
    return Descriptor(
        media_type=str(raw.get("mediaType", "")),
        digest=digest,
        size=size if isinstance(size, int) else None,
        platform=platform_of(plat) if isinstance(plat, dict) else "",
        annotations=tuple(sorted((str(k), str(v)) for k, v in annotations.items()))
        if isinstance(annotations, dict)
        else (),
    )


def platform_of(raw: dict[str, Any]) -> str:
    """``os/architecture[/variant]`` of a platform object or an image config."""
    parts = [str(raw.get("os", "")), str(raw.get("architecture", ""))]
    variant = raw.get("variant")
    if variant:
        parts.append(str(variant))
    return "/".join(parts)


def host_platform_name() -> str:
    """``linux/<arch>`` of this machine, in OCI's architecture names."""
    machine = host_platform.machine().lower()
    return f"linux/{_MACHINES.get(machine, machine)}"


def deb_arch(oci_arch: str) -> str:
    """Debian's name of an OCI architecture (``amd64`` → ``amd64``, ``arm`` → ``armhf``)."""
    return _DEB_ARCHES.get(oci_arch, oci_arch)


def is_index(document: dict[str, Any], media_type: str = "") -> bool:
    """Whether a manifest document is an index (a multi-platform list)."""
    kind = document.get("mediaType") or media_type
    return kind in INDEX_TYPES or ("manifests" in document and "layers" not in document)


def index_entries(document: dict[str, Any], label: str) -> list[Descriptor]:
    """The descriptors an index lists."""
    manifests = document.get("manifests")
    if not isinstance(manifests, list):
        raise InputError(f"{label}: an index without a manifests list")
    return [descriptor(m, f"{label}: manifests[{i}]") for i, m in enumerate(manifests)]


def choose_platform(entries: list[Descriptor], wanted: str | None, label: str) -> Descriptor:
    """The entry of an index for ``wanted`` (``os/arch[/variant]``), or for this host."""
    images = [e for e in entries if e.platform and not e.platform.startswith("unknown/")]
    want = wanted or host_platform_name()
    for e in images:
        if e.platform == want:
            return e
    base = "/".join(want.split("/")[:2])
    for e in images:
        if "/".join(e.platform.split("/")[:2]) == base:
            return e
    if not images and len(entries) == 1:
        return entries[0]
    offered = ", ".join(sorted({e.platform for e in images})) or "none"
    raise InputError(
        f"{label}: no image for platform {want} (offered: {offered}); choose one with --platform"
    )


@dataclass(frozen=True)
class Manifest:
    """An image manifest: its config and its layers, bottom first."""

    config: Descriptor
    layers: tuple[Descriptor, ...]


def parse_manifest(document: dict[str, Any], label: str) -> Manifest:
    """The config and layers of an OCI or Docker v2 image manifest."""
    if document.get("schemaVersion") == 1:
        raise InputError(f"{label}: Docker schema 1 manifests are not supported")
    layers = document.get("layers")
    if not isinstance(layers, list) or "config" not in document:
        raise InputError(f"{label}: not an image manifest (no config and layers)")
    return Manifest(
        config=descriptor(document["config"], f"{label}: config"),
        layers=tuple(descriptor(x, f"{label}: layers[{i}]") for i, x in enumerate(layers)),
    )


@dataclass(frozen=True)
class Config:
    """The facts of an image config a scan reports."""

    platform: str
    architecture: str
    labels: tuple[tuple[str, str], ...]


def parse_config(data: bytes, label: str) -> Config:
    """An image config (``application/vnd.oci.image.config.v1+json``)."""
    raw = load_json(data, label)
    inner = raw.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return Config(
        platform=platform_of(raw),
        architecture=str(raw.get("architecture", "")),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        if isinstance(labels, dict)
        else (),
    )
