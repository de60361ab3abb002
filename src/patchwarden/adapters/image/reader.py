"""Reading OCI and Docker images without running or unpacking them: a reference
(:mod:`.reference`) → its manifest (a platform chosen from an index) → its layers streamed
in order onto the files a scan needs (:mod:`.layers`) → its OS and packages
(:mod:`.packages`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

from patchwarden.adapters.image import packages
from patchwarden.adapters.image.layers import LayerFiles, Readable, apply_layer
from patchwarden.adapters.image.manifests import (
    REF_NAME,
    Config,
    Descriptor,
    Manifest,
    choose_platform,
    deb_arch,
    digest_of,
    index_entries,
    is_index,
    load_json,
    parse_config,
    parse_manifest,
)
from patchwarden.adapters.image.reference import LocalRef, RegistryRef, parse
from patchwarden.adapters.image.registry import Registry, load_credentials
from patchwarden.adapters.image.sources import (
    LayoutDir,
    OciArchive,
    TarMembers,
    choose_docker_image,
    docker_images,
)
from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.image import ImageContents, ImageFacts
from patchwarden.core.model import InstalledPackage
from patchwarden.errors import InputError
from patchwarden.ports import Runner

_MAX_DEPTH = 4
_FOREIGN = ("nondistributable", "foreign")


@dataclass(frozen=True)
class Layer:
    """One layer to read: how to open it, and its digest when it has one to check."""

    label: str
    open: Callable[[], AbstractContextManager[Readable]]
    digest: str | None


@dataclass(frozen=True)
class Located:
    """An image found: its digest, config and layers."""

    digest: str
    config: Config
    layers: tuple[Layer, ...]
    skipped: tuple[str, ...] = ()


class OciImageReader:
    """Reads images of every supported reference kind (see :mod:`.reference`)."""

    def __init__(
        self,
        *,
        platform: str | None = None,
        tls_verify: bool = True,
        creds_file: Path | None = None,
        runner: Runner | None = None,
    ) -> None:
        self._platform = platform
        self._tls_verify = tls_verify
        self._creds_file = creds_file
        self._runner = runner or LocalRunner()

    def read(self, ref: str) -> ImageContents:
        """The image ``ref`` names, its layers read without unpacking them."""
        parsed = parse(ref)
        with ExitStack() as stack:
            located = self._locate(parsed, ref, stack)
            if self._platform and located.config.platform:
                got, want = located.config.platform, self._platform
                if got != want and "/".join(got.split("/")[:2]) != want:
                    raise InputError(f"{ref}: the image is {got}, not {want}")
            files = LayerFiles()
            for layer in located.layers:
                with layer.open() as stream:
                    apply_layer(files, stream, layer.label, layer.digest)
        return self._contents(files, ref, located)

    def _locate(self, parsed: LocalRef | RegistryRef, ref: str, stack: ExitStack) -> Located:
        if isinstance(parsed, RegistryRef):
            credentials = (
                load_credentials(self._creds_file, parsed.host) if self._creds_file else None
            )
            registry = Registry(parsed, tls_verify=self._tls_verify, credentials=credentials)
            stack.callback(registry.close)
            return self._from_registry(registry, parsed, ref)
        if parsed.kind == "docker-archive":
            tar = TarMembers(parsed.path, ref)
            stack.callback(tar.close)
            return _from_docker_archive(tar, parsed.tag, ref)
        blobs: LayoutDir | OciArchive
        if parsed.kind == "oci":
            blobs = LayoutDir(parsed.path, ref)
        else:
            archive = OciArchive(parsed.path, ref)
            stack.callback(archive.close)
            blobs = archive
        index = load_json(blobs.index(), f"{ref}: index.json")
        candidates = _tagged(index_entries(index, ref), parsed.tag, ref)
        entry = _one(candidates, self._platform, ref)
        digest, manifest = self._descend(blobs.read, entry, ref)
        return _located(blobs, digest, manifest, ref)

    def _descend(
        self, read: Callable[[str], bytes], entry: Descriptor, ref: str
    ) -> tuple[str, Manifest]:
        """From an index entry down to an image manifest (a platform chosen on the way)."""
        for _ in range(_MAX_DEPTH):
            label = f"{ref}: manifest {entry.digest}"
            document = load_json(read(entry.digest), label)
            if not is_index(document, entry.media_type):
                return entry.digest, parse_manifest(document, label)
            entry = choose_platform(index_entries(document, label), self._platform, ref)
        raise InputError(f"{ref}: indexes nested deeper than {_MAX_DEPTH}")

    def _from_registry(self, registry: Registry, parsed: RegistryRef, ref: str) -> Located:
        body, media_type, digest = registry.manifest(parsed.reference)
        document = load_json(body, f"{ref}: manifest")
        for _ in range(_MAX_DEPTH):
            if not is_index(document, media_type):
                return _located(registry, digest, parse_manifest(document, ref), ref)
            entry = choose_platform(index_entries(document, ref), self._platform, ref)
            body, media_type, digest = registry.manifest(entry.digest)
            document = load_json(body, f"{ref}: manifest {entry.digest}")
        raise InputError(f"{ref}: indexes nested deeper than {_MAX_DEPTH}")

    def _contents(self, files: LayerFiles, ref: str, located: Located) -> ImageContents:
        os_info = packages.image_os(files, ref)
        warnings = list(located.skipped)
        database, scheme = "", ""
        installed: tuple[InstalledPackage, ...] = ()
        count = 0
        paragraphs = packages.dpkg_paragraphs(files)
        if paragraphs is not None:
            native = deb_arch(located.config.architecture)
            installed = packages.dpkg_packages(paragraphs, native)
            database, scheme, count = "dpkg", "deb", len(installed)
        elif packages.has_rpmdb(files):
            installed = packages.rpm_packages(files, self._runner)
            database, scheme, count = "rpm", "rpm", len(installed)
        else:
            apk = packages.apk_packages(files, ref)
            if apk is None:
                raise InputError(
                    f"{ref}: no OS package database in the image (dpkg, rpm or apk): "
                    "nothing to assess"
                )
            installed = apk
            database, scheme, count = "apk", "apk", len(installed)
        facts = ImageFacts(
            ref=ref,
            digest=located.digest,
            platform=located.config.platform,
            labels=located.config.labels,
            package_count=count,
            package_database=database,
        )
        inventory = packages.inventory(os_info, ref, scheme, installed) if scheme else None
        return ImageContents(facts, os_info, inventory, tuple(warnings))


def _tagged(entries: list[Descriptor], tag: str, ref: str) -> list[Descriptor]:
    """The entries of a layout's ``index.json`` named ``tag`` (all of them without one)."""
    if not entries:
        raise InputError(f"{ref}: the image layout holds no image")
    if not tag:
        return entries
    found = [
        e
        for e in entries
        if (name := e.annotation(REF_NAME)) and (name == tag or name.rsplit(":", 1)[-1] == tag)
    ]
    if not found:
        names = sorted({e.annotation(REF_NAME) for e in entries if e.annotation(REF_NAME)})
        raise InputError(f"{ref}: no image tagged {tag!r} (tags: {', '.join(names) or 'none'})")
    return found


def _one(entries: list[Descriptor], platform: str | None, ref: str) -> Descriptor:
    """The one entry, or the platform's among entries for several platforms."""
    if len(entries) == 1:
        return entries[0]
    if all(e.platform for e in entries):
        return choose_platform(entries, platform, ref)
    names = sorted({e.annotation(REF_NAME) for e in entries if e.annotation(REF_NAME)})
    raise InputError(
        f"{ref}: {len(entries)} images in the layout: name one as PATH:TAG "
        f"(tags: {', '.join(names) or 'none'})"
    )


def _located(
    blobs: LayoutDir | OciArchive | Registry, digest: str, manifest: Manifest, ref: str
) -> Located:
    config = parse_config(blobs.read(manifest.config.digest), f"{ref}: config")
    layers = []
    skipped = []
    for d in manifest.layers:
        if any(word in d.media_type for word in _FOREIGN):
            skipped.append(f"layer {d.digest} ({d.media_type}) is not distributed: not read")
            continue
        layers.append(Layer(f"{ref}: layer {d.digest}", _opener(blobs, d.digest), d.digest))
    return Located(digest, config, tuple(layers), tuple(skipped))


def _opener(
    blobs: LayoutDir | OciArchive | Registry, digest: str
) -> Callable[[], AbstractContextManager[Readable]]:
    return lambda: blobs.stream(digest)


def _from_docker_archive(tar: TarMembers, tag: str, ref: str) -> Located:
    image = choose_docker_image(docker_images(tar), tag, ref)
    raw = tar.small(image.config, "config")
    config = parse_config(raw, f"{ref}: config")

    def opener(name: str) -> Callable[[], AbstractContextManager[Readable]]:
        return lambda: tar.stream(name, "layer")

    layers = tuple(
        Layer(f"{ref}: layer {name}", opener(name), _digest_in_name(name)) for name in image.layers
    )
    return Located(digest_of(raw), config, layers)


def _digest_in_name(name: str) -> str | None:
    """Newer ``docker save`` archives store layers as ``blobs/sha256/<hex>``: checkable."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
        return f"sha256:{parts[2]}"
    return None
