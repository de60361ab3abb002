"""Image references as ``patchwarden image scan`` takes them (skopeo's transports).

- ``DIR`` or ``DIR:TAG`` (also ``oci:DIR[:TAG]``): an OCI image layout directory;
- ``FILE[:TAG]`` of a tar holding ``oci-layout`` (also ``oci-archive:FILE[:TAG]``);
- ``FILE`` of a ``docker save`` tar (also ``docker-archive:FILE[:REPO:TAG]``);
- ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]``: a registry (Registry HTTP API v2); without
  a host (``docker://debian:12``) Docker Hub.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass

from patchwarden.errors import InputError

DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class LocalRef:
    """An image in a file or directory of this machine."""

    kind: str
    """``oci`` (layout directory), ``oci-archive`` or ``docker-archive``."""
    path: str
    tag: str = ""


@dataclass(frozen=True)
class RegistryRef:
    """An image in a registry."""

    host: str
    repository: str
    reference: str
    """A tag or a ``sha256:…`` digest."""

    @property
    def is_digest(self) -> bool:
        return ":" in self.reference


ImageRef = LocalRef | RegistryRef


def parse(ref: str) -> ImageRef:
    """The image ``ref`` names; an :class:`InputError` when it names none."""
    if not ref or "\x00" in ref:
        raise InputError("an image reference is required")
    if ref.startswith("docker://"):
        return _registry(ref, ref.removeprefix("docker://"))
    for kind in ("oci", "oci-archive", "docker-archive"):
        if ref.startswith(kind + ":"):
            path, tag = _split(ref[len(kind) + 1 :], ref)
            if kind == "oci" and not os.path.isdir(path):
                raise InputError(f"{ref}: no OCI layout directory {path!r}")
            if kind != "oci" and not os.path.isfile(path):
                raise InputError(f"{ref}: no such file {path!r}")
            return LocalRef(kind, path, tag)
    path, tag = _split(ref, ref)
    if os.path.isdir(path):
        return LocalRef("oci", path, tag)
    return LocalRef(_archive_kind(path, ref), path, tag)


def _split(text: str, ref: str) -> tuple[str, str]:
    """``PATH[:TAG]``: the whole text when that path exists, else the longest existing path
    before a colon (a docker-archive's tag is ``REPO:TAG`` itself)."""
    if os.path.exists(text):
        return text, ""
    cut = len(text)
    while (cut := text.rfind(":", 0, cut)) > 0:
        if os.path.exists(text[:cut]):
            return text[:cut], text[cut + 1 :]
    raise InputError(
        f"{ref}: no such file or directory (an image is an OCI layout directory, "
        "an oci-archive or docker-archive tar, or docker://HOST/REPO:TAG)"
    )


def _archive_kind(path: str, ref: str) -> str:
    """``oci-archive`` or ``docker-archive`` by what the tar holds."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            names = {n.removeprefix("./") for n in tar.getnames()}
    except (tarfile.TarError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a tar archive"
        raise InputError(f"{ref}: not an image ({why})") from None
    if "oci-layout" in names:
        return "oci-archive"
    if "manifest.json" in names:
        return "docker-archive"
    raise InputError(f"{ref}: not an image archive (neither oci-layout nor manifest.json)")


def _registry(ref: str, rest: str) -> RegistryRef:
    name, at, digest = rest.partition("@")
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, name
        if "/" not in path:
            path = "library/" + path
    tag = "latest"
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if at:
        tag = digest
    if not path or not tag or not _valid_repository(path):
        raise InputError(f"{ref}: not a valid registry reference (docker://HOST/REPO:TAG)")
    return RegistryRef(host, path, tag)


def _valid_repository(path: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._-/")
    return set(path) <= allowed and not path.startswith("/") and ".." not in path
