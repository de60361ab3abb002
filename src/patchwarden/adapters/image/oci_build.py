"""Making OCI images without a container engine: ``mmdebstrap``, ``umoci`` and ``skopeo``.

* :meth:`OciTools.bootstrap` makes a Debian/Ubuntu root filesystem (``mmdebstrap`` into a
  directory, with ``SOURCE_DATE_EPOCH``);
* :meth:`OciTools.unpack` turns a parent image into a root filesystem (``skopeo copy`` into
  a private layout first when it is not one, then ``umoci unpack``);
* :func:`write_layer` writes a root filesystem as a reproducible layer tar (entries sorted,
  owners numeric, times clamped to ``SOURCE_DATE_EPOCH``, hard links kept, ``/dev``,
  ``/proc`` and ``/sys`` left empty) and :meth:`OciTools.pack` adds it to a layout as a
  one-layer image with ``umoci raw add-layer`` and ``umoci config`` (fixed creation times):
  the same root gives the same manifest digest.

Every command is an argv list.  Failures are one-line :class:`AdapterError` /
:class:`EnvironmentProblem` messages.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.imagebuild import epoch_time
from patchwarden.core.recipe import Bootstrap, ContainerConfig
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import Runner

EMPTY_DIRS = ("dev", "proc", "sys")
"""Top-level directories kept empty in a layer (the container runtime mounts them)."""

VOLATILE = (
    "var/lib/apt/lists/*",
    "var/lib/apt/lists/partial/*",
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/archives/partial/*",
    "var/cache/ldconfig/aux-cache",
    "var/cache/debconf/*-old",
    "var/lib/dpkg/*-old",
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/apt/*.log",
    "var/log/apt/eipp.log.xz",
    "var/cache/dnf/*",
    "var/log/dnf*.log",
    "var/log/hawkey.log",
)
"""Files a package manager leaves behind that change from one run to the next (downloaded
indices and packages, logs, backup copies): removed before packing (``lock`` files stay)."""

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""``PATH`` in the image config unless the recipe sets one."""

TOOLS = {"umoci": "umoci", "skopeo": "skopeo", "mmdebstrap": "mmdebstrap"}


def _walk(root: Path, rel: str = "") -> Iterator[str]:
    """Every path under ``root`` (relative, sorted by name at each level, parents first)."""
    base = root / rel if rel else root
    for name in sorted(os.listdir(base)):
        path = f"{rel}/{name}" if rel else name
        yield path
        full = root / path
        if full.is_dir() and not full.is_symlink():
            if not rel and name in EMPTY_DIRS:
                continue
            yield from _walk(root, path)


def write_layer(root: Path, out: Path, epoch: int) -> int:
    """Write ``root`` as an uncompressed layer tar at ``out``; the number of entries.

    Reproducible: the same tree gives the same bytes whatever the files' times after
    ``epoch``, the order ``os.listdir`` returns or the names of the owners.  File
    capabilities and other extended attributes are not carried.
    """
    seen: dict[tuple[int, int], str] = {}
    count = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in _walk(root):
            full = root / rel
            st = full.lstat()
            info = tar.gettarinfo(str(full), arcname=rel)
            info.uname = info.gname = ""
            info.mtime = min(int(st.st_mtime), epoch)
            info.pax_headers = {}
            count += 1
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                first = seen.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    info.type = tarfile.LNKTYPE
                    info.linkname = first
                    info.size = 0
                    tar.addfile(info)
                    continue
            if info.isreg():
                with open(full, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return count


def clean_volatile(root: Path) -> list[str]:
    """Remove :data:`VOLATILE` files from ``root``; the paths removed (relative)."""
    removed: list[str] = []
    for pattern in VOLATILE:
        for path in sorted(root.glob(pattern)):
            if path.name == "lock" or path.name == "partial":
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed.append(str(path.relative_to(root)))
    return removed


GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
"""``uname -m`` → OCI (Go) architecture names."""


def _blob_json(layout: Path, digest: str) -> dict[str, object]:
    algorithm, _, hexdigest = digest.partition(":")
    try:
        data = json.loads((layout / "blobs" / algorithm / hexdigest).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{layout}: cannot read blob {digest}: {exc}") from None
    if not isinstance(data, dict):
        raise AdapterError(f"{layout}: blob {digest} is not a JSON object")
    return data


def layout_digest(layout: Path, tag: str) -> str:
    """The manifest digest of ``tag`` in the OCI layout ``layout``."""
    try:
        index = json.loads((layout / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{layout}: not an OCI layout ({exc})") from None
    for entry in index.get("manifests", []):
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(entry["digest"])
    raise AdapterError(f"{layout}: no image tagged {tag!r}")


class OciTools:
    """The command-line tools that make and move images."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner = runner or LocalRunner()

    def check(self, *tools: str) -> None:
        """Fail with one line when a tool is missing (before any work starts)."""
        missing = [t for t in tools if shutil.which(TOOLS.get(t, t)) is None]
        if missing:
            raise EnvironmentProblem(
                f"{', '.join(missing)}: command not found (apt-get install {' '.join(missing)})"
            )

    def _run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        result = self.runner.run(argv, env=env)
        if result.returncode != 0:
            lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else "no output"
            raise AdapterError(f"{argv[0]} {argv[1]}: exited with {result.returncode}: {last}")
        return result.stdout

    def bootstrap(self, spec: Bootstrap, root: Path, epoch: int) -> None:
        """``mmdebstrap`` a root filesystem into the empty directory ``root``."""
        argv = ["mmdebstrap", "--quiet", f"--variant={spec.variant}"]
        if spec.architecture:
            argv.append(f"--architectures={spec.architecture}")
        if spec.include:
            argv.append(f"--include={','.join(spec.include)}")
        argv += [spec.suite, str(root), *spec.mirrors]
        self._run(argv, env={"SOURCE_DATE_EPOCH": str(epoch)})

    def fetch(self, reference: str, layout: Path, tag: str, *, tls_verify: bool = True) -> None:
        """Copy an image (any skopeo transport: ``oci:``, ``oci-archive:``,
        ``docker-archive:``, ``docker://``) into the layout ``layout`` as ``tag``."""
        argv = ["skopeo", "copy", "--quiet"]
        if not tls_verify:
            argv.append("--src-tls-verify=false")
        argv += [reference, f"oci:{layout}:{tag}"]
        self._run(argv)

    def unpack(self, layout: Path, tag: str, bundle: Path) -> Path:
        """``umoci unpack`` the image ``tag`` of ``layout`` into ``bundle``; its rootfs."""
        self._run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)])
        return bundle / "rootfs"

    def pack(
        self,
        root: Path,
        layout: Path,
        tag: str,
        *,
        epoch: int,
        labels: Sequence[tuple[str, str]],
        config: ContainerConfig,
        architecture: str,
        work: Path,
    ) -> str:
        """Pack ``root`` as the one-layer image ``tag`` of ``layout`` (made if missing);
        its manifest digest.  ``work`` holds the layer tar while it is added."""
        if not (layout / "index.json").exists():
            layout.parent.mkdir(parents=True, exist_ok=True)
            self._run(["umoci", "init", "--layout", str(layout)])
        created = epoch_time(epoch)
        scratch = f"{tag}.scratch"
        layer = work / "layer.tar"
        write_layer(root, layer, epoch)
        try:
            self._run(["umoci", "new", "--image", f"{layout}:{scratch}"])
            self._run(
                [
                    "umoci", "raw", "add-layer", "--image", f"{layout}:{scratch}",
                    "--tag", tag, "--history.created", created,
                    "--history.created_by", "patchwarden image build", str(layer),
                ]
            )  # fmt: skip
        finally:
            layer.unlink(missing_ok=True)
            self.runner.run(["umoci", "rm", "--image", f"{layout}:{scratch}"])
        argv = [
            "umoci", "config", "--image", f"{layout}:{tag}", "--created", created,
            "--author", "patchwarden", "--no-history",
            "--os", "linux", "--architecture", architecture,
        ]  # fmt: skip
        for key, value in labels:
            argv += ["--config.label", f"{key}={value}"]
        env = dict(config.env)
        env.setdefault("PATH", DEFAULT_PATH)
        for key, value in env.items():
            argv += ["--config.env", f"{key}={value}"]
        for word in config.cmd:
            argv += ["--config.cmd", word]
        for word in config.entrypoint:
            argv += ["--config.entrypoint", word]
        if config.working_dir:
            argv += ["--config.workingdir", config.working_dir]
        if config.user:
            argv += ["--config.user", config.user]
        self._run(argv)
        self._run(["umoci", "gc", "--layout", str(layout)])
        return layout_digest(layout, tag)

    def remove(self, layout: Path, tag: str) -> None:
        """Remove ``tag`` from ``layout`` and the blobs only it used."""
        if not (layout / "index.json").exists():
            return
        self.runner.run(["umoci", "rm", "--image", f"{layout}:{tag}"])
        self._run(["umoci", "gc", "--layout", str(layout)])

    def clean(self, root: Path) -> int:
        """Remove the files package managers leave that change from run to run
        (:data:`VOLATILE`); how many."""
        return len(clean_volatile(root))

    def digest(self, layout: Path, tag: str) -> str:
        """The manifest digest of ``tag`` in ``layout``."""
        return layout_digest(layout, tag)

    def architecture(self, layout: Path | None = None, tag: str = "") -> str:
        """The architecture of the image ``tag`` of ``layout`` (its config), or without a
        layout this machine's (``dpkg --print-architecture``'s names: amd64, arm64 …)."""
        if layout is None:
            return GOARCH.get(platform.machine(), platform.machine())
        digest = layout_digest(layout, tag)
        manifest = _blob_json(layout, digest)
        config = manifest.get("config", {})
        if not isinstance(config, dict) or "digest" not in config:
            raise AdapterError(f"{layout}:{tag}: the image has no config (an index?)")
        return str(_blob_json(layout, str(config["digest"])).get("architecture", "")) or (
            GOARCH.get(platform.machine(), platform.machine())
        )

    def copy_tree(self, source: Path, target: Path) -> None:
        """A full copy of a root filesystem (owners, modes, links, devices kept)."""
        self._run(["cp", "-a", "--reflink=auto", f"{source}/.", str(target)])
