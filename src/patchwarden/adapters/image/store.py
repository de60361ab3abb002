"""The local image store: where ``patchwarden image build`` keeps what it builds.

Under one directory (``<data dir>/images`` by default):

* ``catalog.db`` — every build and its history (:class:`LocalImageCatalog`);
* ``layouts/<name>/`` — an OCI image layout per image name, each build tagged ``x.y.z-build``
  (so ``patchwarden image scan layouts/web-base:1.0.0-1``, ``skopeo copy oci:…`` and
  ``umoci`` read them directly);
* ``work/`` — root filesystems while they are built (removed after each build).

It also removes images (from their layout, and their manifests from registries) and pushes
them (skopeo), for the use cases in :mod:`patchwarden.pipeline.image_build` and
:mod:`patchwarden.pipeline.image_lifecycle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchwarden.adapters.image.catalog import LocalImageCatalog
from patchwarden.adapters.image.oci_build import OciTools
from patchwarden.adapters.image.push import push
from patchwarden.adapters.image.reference import RegistryRef
from patchwarden.adapters.image.registry import Registry, load_credentials
from patchwarden.core.imagebuild import Distributed, ImageRecord


class LocalImageStore:
    """The image store under ``base``."""

    def __init__(self, base: Path, tools: OciTools | None = None) -> None:
        self.base = base
        self.tools = tools or OciTools()
        self.layouts = base / "layouts"
        self.work = base / "work"
        self._catalog: LocalImageCatalog | None = None

    @property
    def catalog(self) -> LocalImageCatalog:
        """The catalog (opened on first use)."""
        if self._catalog is None:
            self._catalog = LocalImageCatalog(self.base / "catalog.db")
        return self._catalog

    def close(self) -> None:
        """Close the catalog."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def remove_local(self, record: ImageRecord) -> None:
        """Remove the build's tag from its layout (blobs no other tag uses go too)."""
        if record.layout:
            self.tools.remove(Path(record.layout), record.version.tag)

    def remove_remote(self, target: Distributed) -> str | None:
        """Delete the pushed manifest ``target.digest`` from its registry."""
        return delete_remote(target)

    def push(
        self,
        layout: Path,
        tag: str,
        destination: str,
        *,
        tags: Sequence[str],
        tls_verify: bool,
        credentials_file: str,
    ) -> str:
        """Push ``layout:tag`` to ``destination`` under ``tags``; the manifest digest."""
        return push(
            layout,
            tag,
            destination,
            tags=tags,
            tls_verify=tls_verify,
            credentials_file=credentials_file,
        ).digest


def delete_remote(target: Distributed) -> str | None:
    """Delete the manifest ``target.digest`` from ``target.destination`` (every tag that
    points at it goes with it); the digest, or ``None`` when the registry did not have it."""
    host, _, repository = target.destination.partition("/")
    credentials = (
        load_credentials(Path(target.credentials_file), host) if target.credentials_file else None
    )
    registry = Registry(
        RegistryRef(host, repository, target.digest),
        tls_verify=target.tls_verify,
        credentials=credentials,
    )
    try:
        return registry.delete_tag(target.digest)
    finally:
        registry.close()


class RegistryRemover:
    """Removes images the server knows: from registries only (the builders keep no copy)."""

    def remove_local(self, record: ImageRecord) -> None:
        """Nothing: a fleet build leaves no layout on the server."""

    def remove_remote(self, target: Distributed) -> str | None:
        """:func:`delete_remote`."""
        return delete_remote(target)
