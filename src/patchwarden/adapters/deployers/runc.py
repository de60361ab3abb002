"""Instances of a golden image as runc containers, without a container engine.

:class:`RuncDeployer` starts an instance in three steps:

1. ``umoci unpack --image LAYOUT:TAG`` makes a runtime bundle (``config.json`` and
   ``rootfs``) once per image digest under ``STATE/images`` (the three last used are
   kept), copied to ``STATE/bundles/INSTANCE`` for each instance (an old bundle of that name
   is removed first);
2. the bundle's ``config.json`` is edited (:func:`adapt_config`): no terminal, no network
   namespace (the instance shares the host's network, so it listens on ``HOST:PORT``
   directly; ``PORT`` is ``base_port + slot``), ``PORT``, ``HOST`` and
   ``PATCHWARDEN_INSTANCE`` (and the operator's ``env``) added to the environment, the
   hostname set to the instance's name, and ``process.args`` replaced by ``command`` when
   one is given (``{port}``, ``{host}`` and ``{instance}`` substituted in each element;
   otherwise the image's own Entrypoint/Cmd, which umoci put there, run);
3. ``runc --root STATE/runc run --detach --pid-file … --bundle BUNDLE INSTANCE`` with stdin
   from ``/dev/null`` and stdout/stderr appended to ``STATE/logs/INSTANCE.log``: the
   detached container inherits those descriptors, so the log holds the instance's output.
   (This call bypasses the runner on purpose: a runner captures output through pipes that
   the container would keep open for its whole life.)

A container of the same name left behind by an earlier run is deleted before the start.
:meth:`RuncDeployer.stop` sends ``TERM``, waits up to ``stop_timeout`` seconds for the
container to stop, sends ``KILL`` if needed, deletes the container and removes the bundle;
stopping an instance runc does not know is not an error.

runc runs as root with a root (not rootless) spec.  Every command is an argv list; a
failure is a one-line :class:`AdapterError` (with the tail of the instance's log when the
container did not start) or :class:`EnvironmentProblem` (a missing tool).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from patchwarden.adapters.runner import LocalRunner
from patchwarden.core.imagebuild import ImageRecord
from patchwarden.errors import AdapterError, EnvironmentProblem
from patchwarden.ports import Runner, RunResult, StartedInstance

TOOLS = ("runc", "umoci")
KEEP_UNPACKED = 3
"""Unpacked images kept for the next instances (the newest used)."""
LOG_TAIL = 5
"""Lines of the instance's log quoted when it fails to start."""


def substitute(word: str, values: Mapping[str, str]) -> str:
    """``word`` with each ``{key}`` of ``values`` replaced (other braces left alone)."""
    for key, value in values.items():
        word = word.replace("{" + key + "}", value)
    return word


def adapt_config(
    config: dict[str, Any],
    *,
    instance: str,
    host: str,
    port: int,
    command: Sequence[str],
    env: Mapping[str, str],
    cgroup: str = "",
) -> dict[str, Any]:
    """The bundle config ``config`` (umoci's) edited to run ``instance`` on the host's
    network at ``host:port`` (changed in place and returned)."""
    process = config.setdefault("process", {})
    process["terminal"] = False
    extra = {"PORT": str(port), "HOST": host, "PATCHWARDEN_INSTANCE": instance, **env}
    kept = [e for e in process.get("env", []) if e.partition("=")[0] not in extra]
    process["env"] = [*kept, *(f"{key}={value}" for key, value in extra.items())]
    if command:
        values = {"port": str(port), "host": host, "instance": instance}
        process["args"] = [substitute(word, values) for word in command]
    if not process.get("args"):
        raise AdapterError(
            f"{instance}: the image has no Entrypoint or Cmd: give the deployer a command"
        )
    linux = config.setdefault("linux", {})
    linux["namespaces"] = [ns for ns in linux.get("namespaces", []) if ns.get("type") != "network"]
    if cgroup:
        linux["cgroupsPath"] = cgroup  # runc's default, /INSTANCE, is shared by every state dir
    config["hostname"] = instance
    return config


def log_tail(path: Path, lines: int = LOG_TAIL) -> str:
    """The last non-empty ``lines`` of ``path`` joined with `` | `` (empty if none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join([ln.strip() for ln in text.splitlines() if ln.strip()][-lines:])


class RuncDeployer:
    """Starts and stops instances as runc containers on the host's network (see module)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        base_port: int,
        host: str = "127.0.0.1",
        command: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        runner: Runner | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.base_port = base_port
        self.host = host
        self.command = tuple(command)
        self.env = dict(env or {})
        self.runner = runner or LocalRunner()
        self.stop_timeout = stop_timeout

    @property
    def runc_root(self) -> Path:
        """runc's state directory (``--root``)."""
        return self.state_dir / "runc"

    def bundle(self, instance: str) -> Path:
        """Where ``instance``'s bundle is unpacked."""
        return self.state_dir / "bundles" / instance

    def cgroup(self, instance: str) -> str:
        """The instance's cgroup: under ``/patchwarden/`` and a digest of the state
        directory, so that two groups (or two tests) with an instance ``web-0`` never
        share one."""
        digest = hashlib.sha256(str(self.state_dir.absolute()).encode()).hexdigest()[:12]
        return f"/patchwarden/{digest}/{instance}"

    def log_path(self, instance: str) -> Path:
        """Where ``instance``'s output goes."""
        return self.state_dir / "logs" / f"{instance}.log"

    def check(self) -> None:
        """Fail with one line when runc or umoci is missing."""
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            names = " ".join(missing)
            raise EnvironmentProblem(f"{names} not found: apt-get install {names}")

    def _runc(self, *args: str, timeout: float = 60.0) -> RunResult:
        return self.runner.run(["runc", "--root", str(self.runc_root), *args], timeout=timeout)

    def status(self, instance: str) -> str | None:
        """runc's status of ``instance`` (``running``, ``stopped`` …), ``None`` if unknown."""
        result = self._runc("state", instance)
        if result.returncode != 0:
            return None
        try:
            return str(json.loads(result.stdout).get("status", ""))
        except ValueError:
            return None

    def running(self) -> list[str]:
        """The names of every container runc knows under this state directory."""
        if not self.runc_root.exists():
            return []
        result = self._runc("list", "--format", "json")
        if result.returncode != 0:
            raise AdapterError(f"runc list failed: {result.stderr.strip() or 'no output'}")
        containers = json.loads(result.stdout or "null") or []
        return sorted(str(c["id"]) for c in containers)

    def start(self, image: ImageRecord, instance: str, slot: int) -> StartedInstance:
        """Unpack ``image``, adapt its bundle and run it detached (see module)."""
        self.check()
        if not image.layout:
            raise AdapterError(f"{image.name} {image.version}: the image has no OCI layout")
        port = self.base_port + slot
        bundle = self.bundle(instance)
        if self.status(instance) is not None:
            self._runc("delete", "--force", instance)
        self._unpack(image, bundle)
        config_path = bundle / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        adapt_config(
            config, instance=instance, host=self.host, port=port,
            command=self.command, env=self.env, cgroup=self.cgroup(instance),
        )  # fmt: skip
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self._run_detached(instance, bundle)
        return StartedInstance(instance, f"{self.host}:{port}", handle=instance)

    def _unpack(self, image: ImageRecord, bundle: Path) -> None:
        """The image's bundle, unpacked once per image digest under ``STATE/images`` and
        copied for each instance (``cp -a --reflink=auto``: a copy is several times faster
        than an unpack, and each instance writes only to its own root)."""
        if bundle.exists():
            shutil.rmtree(bundle)
        bundle.parent.mkdir(parents=True, exist_ok=True)
        unpacked = self._unpacked(image)
        result = self.runner.run(["cp", "-a", "--reflink=auto", str(unpacked), str(bundle)])
        if result.returncode != 0:
            shutil.rmtree(bundle, ignore_errors=True)
            raise AdapterError(f"copying {unpacked} failed: {result.stderr.strip()[-200:]}")

    def _unpacked(self, image: ImageRecord) -> Path:
        key = (image.digest or f"{image.name}-{image.version.tag}").replace(":", "-")
        cache = self.state_dir / "images"
        target = cache / key
        if (target / "config.json").exists():
            target.touch()
            return target
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        reference = self._layout(image, cache)
        result = self.runner.run(["umoci", "unpack", "--image", reference, str(partial)])
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
            last = lines[-1].strip() if lines else f"exit {result.returncode}"
            raise AdapterError(f"umoci unpack {reference} failed: {last}")
        shutil.rmtree(cache / ".pulled", ignore_errors=True)
        partial.rename(target)
        for old in sorted(
            (p for p in cache.iterdir() if not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )[:-KEEP_UNPACKED]:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def _layout(self, image: ImageRecord, cache: Path) -> str:
        """``LAYOUT:TAG`` of ``image``: its own layout when this machine has it (built
        here), else a copy pulled from the first registry it was pushed to (built by a
        builder node)."""
        layout = Path(image.layout) if image.layout else None
        if layout is not None and (layout / "index.json").exists():
            return f"{layout}:{image.version.tag}"
        if not image.distributed:
            raise AdapterError(
                f"{image.name} {image.version}: no OCI layout on this machine and never pushed "
                "to a registry (give its pipeline a distribution configuration)"
            )
        target = image.distributed[0]
        source = f"docker://{target.destination}:{target.tags[0]}"
        pulled = cache / ".pulled"
        argv = ["skopeo", "copy", "--quiet"]
        if not target.tls_verify:
            argv.append("--src-tls-verify=false")
        if target.credentials_file:
            argv += ["--src-authfile", target.credentials_file]
        result = self.runner.run([*argv, source, f"oci:{pulled}:{image.version.tag}"], timeout=600)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            raise AdapterError(f"skopeo copy {source} failed: {last[-300:]}")
        return f"{pulled}:{image.version.tag}"

    def _run_detached(self, instance: str, bundle: Path) -> None:
        log = self.log_path(instance)
        log.parent.mkdir(parents=True, exist_ok=True)
        self.runc_root.mkdir(parents=True, exist_ok=True)
        argv = [
            "runc", "--root", str(self.runc_root), "run", "--detach",
            "--pid-file", str(bundle / "pid"), "--bundle", str(bundle), instance,
        ]  # fmt: skip
        with open(log, "ab") as out:
            try:
                proc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=False
                )
            except subprocess.TimeoutExpired:
                raise AdapterError(f"runc run {instance} timed out after 60 s") from None
        status = self.status(instance)
        if proc.returncode != 0 or status != "running":
            if status is not None:
                self._runc("delete", "--force", instance)
            raise AdapterError(
                f"{instance} did not start (runc exit {proc.returncode}, "
                f"status {status or 'gone'}): {log_tail(log) or 'no output'} (log: {log})"
            )

    def stop(self, started: StartedInstance) -> None:
        """Stop and delete the container and remove its bundle; unknown is not an error."""
        name = started.handle or started.instance
        if self.runc_root.exists() and self.status(name) is not None:
            self._runc("kill", name, "TERM")
            deadline = time.monotonic() + self.stop_timeout
            while self.status(name) not in (None, "stopped") and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.status(name) not in (None, "stopped"):
                self._runc("kill", name, "KILL")
            result = self._runc("delete", "--force", name)
            if result.returncode != 0 and self.status(name) is not None:
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise AdapterError(f"runc delete {name} failed: {last}")
        bundle = self.bundle(name)
        if bundle.exists():
            shutil.rmtree(bundle)
