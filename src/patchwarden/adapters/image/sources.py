"""Where an image's blobs come from on this machine: an OCI layout directory, an
``oci-archive`` tar (a layout in one tar) or a ``docker save`` tar.

Blobs are streamed from where they lie: a tar member is read in place (``tarfile``'s random
access to an uncompressed tar), never extracted.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from patchwarden.adapters.image.layers import Readable
from patchwarden.adapters.image.manifests import MAX_JSON, check_digest
from patchwarden.errors import InputError


def blob_path(digest: str) -> str:
    """``blobs/<algorithm>/<hex>`` of a digest."""
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart}"


class LayoutDir:
    """The blobs of an OCI image layout directory."""

    def __init__(self, path: str, label: str) -> None:
        self.base = Path(path)
        self.label = label

    def index(self) -> bytes:
        """``index.json``."""
        try:
            return _small(self.base / "index.json")
        except FileNotFoundError:
            raise InputError(f"{self.label}: not an OCI image layout (no index.json)") from None
        except OSError as exc:
            raise InputError(f"{self.label}: cannot read index.json ({exc.strerror})") from None

    def read(self, digest: str) -> bytes:
        """A small blob (manifest, index, config), checked against its digest."""
        try:
            data = _small(self.base / blob_path(digest))
        except (OSError, ValueError):  # ValueError: a NUL or a lone surrogate in the digest
            raise InputError(f"{self.label}: missing blob {digest}") from None
        check_digest(data, digest, f"{self.label}: blob {digest}")
        return data

    @contextmanager
    def stream(self, digest: str) -> Iterator[IO[bytes]]:
        """A layer blob as a stream."""
        try:
            fh = (self.base / blob_path(digest)).open("rb")
        except (OSError, ValueError):
            raise InputError(f"{self.label}: missing blob {digest}") from None
        with fh:
            yield fh


def _small(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise InputError(f"{path}: larger than {MAX_JSON >> 20} MiB: not a manifest")
    return data


class TarMembers:
    """Random access to the members of an uncompressed tar (an image archive)."""

    def __init__(self, path: str, label: str) -> None:
        self.label = label
        try:
            self._tar = tarfile.open(path, mode="r:")  # noqa: SIM115 (closed by close())
            self._members = {
                m.name.removeprefix("./"): m for m in self._tar.getmembers() if m.isfile()
            }
        except (tarfile.TarError, OSError) as exc:
            raise InputError(f"{label}: not a readable tar archive ({exc})") from None

    def close(self) -> None:
        self._tar.close()

    def has(self, name: str) -> bool:
        return name in self._members

    def small(self, name: str, what: str) -> bytes:
        member = self._members.get(name)
        if member is None:
            raise InputError(f"{self.label}: missing {what} {name}")
        if member.size > MAX_JSON:
            raise InputError(f"{self.label}: {name} is too large for a {what}")
        with self._open(member, what) as fh:
            return fh.read()

    @contextmanager
    def stream(self, name: str, what: str) -> Iterator[IO[bytes]]:
        member = self._members.get(name)
        if member is None:
            raise InputError(f"{self.label}: missing {what} {name}")
        with self._open(member, what) as fh:
            yield fh

    @contextmanager
    def _open(self, member: tarfile.TarInfo, what: str) -> Iterator[IO[bytes]]:
        try:
            fh = self._tar.extractfile(member)
        except (tarfile.TarError, OSError) as exc:
            raise InputError(f"{self.label}: cannot read {what} {member.name} ({exc})") from None
        if fh is None:
            raise InputError(f"{self.label}: {member.name} is not a file")
        with fh:
            yield fh


class OciArchive:
    """The blobs of an ``oci-archive`` tar (an OCI layout in one uncompressed tar)."""

    def __init__(self, path: str, label: str) -> None:
        self.label = label
        self._tar = TarMembers(path, label)
        if not self._tar.has("index.json"):
            self._tar.close()
            raise InputError(f"{label}: not an oci-archive (no index.json)")

    def close(self) -> None:
        self._tar.close()

    def index(self) -> bytes:
        return self._tar.small("index.json", "index")

    def read(self, digest: str) -> bytes:
        data = self._tar.small(blob_path(digest), "blob")
        check_digest(data, digest, f"{self.label}: blob {digest}")
        return data

    @contextmanager
    def stream(self, digest: str) -> Iterator[Readable]:
        with self._tar.stream(blob_path(digest), "blob") as fh:
            yield fh


@dataclass(frozen=True)
class DockerImage:
    """One image of a ``docker save`` archive."""

    config: str
    layers: tuple[str, ...]
    tags: tuple[str, ...]


def docker_images(tar: TarMembers) -> list[DockerImage]:
    """The images ``manifest.json`` of a ``docker save`` archive lists."""
    try:
        raw = json.loads(tar.small("manifest.json", "manifest"))
    except (ValueError, RecursionError):
        raise InputError(f"{tar.label}: manifest.json is not valid JSON") from None
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{tar.label}: manifest.json lists no image")
    images = []
    for i, entry in enumerate(raw):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("Config"), str)
            or not isinstance(entry.get("Layers"), list)
            or not all(isinstance(x, str) for x in entry["Layers"])
        ):
            raise InputError(f"{tar.label}: manifest.json[{i}] is not an image entry")
        tags = entry.get("RepoTags") or []
        images.append(
            DockerImage(
                config=os.path.normpath(entry["Config"]),
                layers=tuple(os.path.normpath(x) for x in entry["Layers"]),
                tags=tuple(str(t) for t in tags if isinstance(t, str)),
            )
        )
    return images


def choose_docker_image(images: list[DockerImage], tag: str, label: str) -> DockerImage:
    """The image tagged ``tag`` (``repo:tag`` or its tag alone), or the only one."""
    if not tag:
        if len(images) == 1:
            return images[0]
        tags = ", ".join(t for i in images for t in i.tags) or "none"
        raise InputError(f"{label}: {len(images)} images in the archive: name one (tags: {tags})")
    for image in images:
        if any(_short(t) == _short(tag) or t.rsplit(":", 1)[-1] == tag for t in image.tags):
            return image
    tags = ", ".join(t for i in images for t in i.tags) or "none"
    raise InputError(f"{label}: no image tagged {tag!r} in the archive (tags: {tags})")


def _short(name: str) -> str:
    """A Docker Hub name without its implied parts (``docker.io/library/x:1`` → ``x:1``)."""
    return name.removeprefix("docker.io/").removeprefix("library/")
