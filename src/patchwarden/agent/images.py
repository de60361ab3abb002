"""Building images on this machine: the wiring of
:func:`patchwarden.pipeline.image_build.build_image` to the local adapters (``patchwarden
image build`` uses it too), and the ``Patchwarden-BuildImage`` command an image-builder
agent runs for the server.

A fleet build uses the documents the command carries, the version the server assigned and
— for a parent that is another image — the registry reference the server gave; every change
of the image record is sent to the server as it happens.  The builder keeps no copy of the
image afterwards (the registries hold it).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from patchwarden import wire
from patchwarden.adapters.image.store import LocalImageStore
from patchwarden.core.imagebuild import ImageRecord
from patchwarden.core.recipe import ExternalImage
from patchwarden.core.semver import ImageVersion
from patchwarden.errors import InputError, PatchwardenError
from patchwarden.pipeline.image_build import BuildDeps, BuildOptions, build_image
from patchwarden.ports import StateStore

log = logging.getLogger("patchwarden.agent")

TOOLS = ("mmdebstrap", "umoci", "skopeo")


def can_build_images() -> str:
    """Why this machine cannot build images ("" when it can: root, and the tools)."""
    import os

    if os.geteuid() != 0:
        return "image builds need root (chroot)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install {' '.join(missing)})"
    return ""


def local_deps(
    store: LocalImageStore,
    *,
    vulndb: Path,
    cache_dir: Path,
    state: StateStore | None,
    clock: Callable[[], datetime],
    progress: Callable[[str], None] = lambda _line: None,
) -> BuildDeps:
    """The adapters of a build on this machine (images in ``store``)."""
    from patchwarden.adapters.image.actions import RootActions
    from patchwarden.adapters.image.reader import OciImageReader
    from patchwarden.adapters.os import detect
    from patchwarden.adapters.vulndb import SqliteVulnDb

    return BuildDeps(
        catalog=store.catalog,
        tools=store.tools,
        actions=RootActions,
        package_manager=lambda root: detect(root, cache_dir=str(cache_dir)),
        read_image=OciImageReader().read,
        advisories=lambda: SqliteVulnDb(vulndb) if vulndb.is_file() else None,
        push=store.push,
        layouts=store.layouts,
        work=store.work,
        state=state,
        progress=progress,
        clock=clock,
    )


class ForwardingCatalog:
    """The local catalog, with the server's build number and every save sent on."""

    def __init__(
        self, inner: Any, version: ImageVersion, send: Callable[[ImageRecord], None]
    ) -> None:
        self.inner = inner
        self.version = version
        self.send = send

    def next_build(self, name: str, version: str) -> int:
        """The build number the server assigned (this command builds exactly that)."""
        if version != str(self.version.semantic):
            raise InputError(f"the server assigned {self.version}, the recipe is {version}")
        return self.version.build

    def save(self, record: ImageRecord) -> None:
        """Keep it locally and send it to the server (a failed send is logged: the next
        change, or the invocation's end, tells the server again)."""
        self.inner.save(record)
        try:
            self.send(record)
        except Exception as exc:  # the build goes on; the server catches up
            log.warning(
                "image %s %s: could not tell the server (%s)", record.name, record.version, exc
            )

    def get(self, name: str, version: str) -> ImageRecord | None:
        """The local record."""
        record: ImageRecord | None = self.inner.get(name, version)
        return record

    def images(self, name: str | None = None) -> list[ImageRecord]:
        """The local records."""
        records: list[ImageRecord] = self.inner.images(name)
        return records


def run_build_command(
    delivery: wire.Delivery,
    store: LocalImageStore,
    deps_for: Callable[[LocalImageStore], BuildDeps],
    send: Callable[[ImageRecord], None],
) -> wire.InvocationResult:
    """Run one ``Patchwarden-BuildImage`` invocation."""
    from patchwarden.documents.image import image_documents_of

    why = can_build_images()
    if why:
        return wire.InvocationResult("Failed", 3, f"{wire.BUILD_IMAGE_DOCUMENT}: {why}")
    params = delivery.parameters
    try:
        documents = params.get("Documents")
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise InputError("Parameters.Documents: expected a list of documents")
        inputs = image_documents_of(documents, "Parameters.Documents").build_inputs(
            str(params.get("Pipeline") or "") or None, None
        )
        version = ImageVersion.parse(str(params.get("Version", "")))
        parent = params.get("Parent")
        parent_image: tuple[str, str] | None = None
        if isinstance(parent, dict):
            external = ExternalImage(
                str(parent.get("reference", "")),
                bool(parent.get("tlsVerify", True)),
                str(parent.get("description", "")),
            )
            inputs = replace(inputs, recipe=replace(inputs.recipe, parent=external))
            image = parent.get("image")
            if isinstance(image, list) and len(image) == 2:
                parent_image = (str(image[0]), str(image[1]))
        tests_text = str(params.get("Tests", ""))
        options = BuildOptions(
            epoch=int(params.get("SourceDateEpoch", 0)),
            tests=None if tests_text == "" else tests_text == "true",
            distribute=str(params.get("Distribute", "true")) == "true",
            force_parent=True,  # the server chose the parent
            actor=f"builder {delivery.command_id}",
            trigger=str(params.get("Trigger") or "manual"),
            parent_image=parent_image,
        )
    except (PatchwardenError, ValueError) as exc:
        return wire.InvocationResult("Failed", 2, f"{wire.BUILD_IMAGE_DOCUMENT}: {exc}")
    deps = deps_for(store)
    deps.catalog = ForwardingCatalog(deps.catalog, version, send)
    record = build_image(inputs, deps, options)
    store.remove_local(record)  # the registries hold it; a failed one lives in its log
    ok = record.status.value == "AVAILABLE"
    line = f"image {record.name} {record.version}: {record.status.value}"
    if record.reason:
        line += f": {record.reason}"
    if record.digest:
        line += f" ({record.digest})"
    return wire.InvocationResult("Success" if ok else "Failed", 0 if ok else 1, line)
