"""Operator command hooks as deployer and traffic router (Kubernetes, Nomad, cloud groups).

:class:`CommandDeployer` and :class:`CommandRouter` hand each step of a deployment to a
command the operator gives.  The contract of the hooks:

Every hook
    is an argv list, run without a shell, with stdin from ``/dev/null`` (the route hook
    reads its weights from stdin), in Patchwarden's environment plus the variables below
    (and the deployer's ``env``).  Placeholders in the argv elements are substituted per
    call: ``{instance}`` and ``{slot}`` (start), ``{instance}``, ``{address}`` and
    ``{handle}`` (stop), ``{endpoint}`` (route); other braces are left alone.  Exit 0 means
    done; any other exit fails the step with the hook's last line of stderr (stdout when
    stderr is empty).  A hook running longer than its timeout (default 300 s) is killed
    with its process group and the step fails.  A process a hook leaves running (the
    instance itself) must not keep the hook's stdout or stderr open (redirect them, start a
    new session): Patchwarden reads them to the end.

Start hook (``start``)
    starts one instance of an image and returns once its process runs (not once it is
    healthy: Patchwarden probes it afterwards).  Environment: ``PATCHWARDEN_INSTANCE``
    (unique name: ``web-green-1``), ``PATCHWARDEN_SLOT`` (0, 1 … unique among the group's
    running instances: base port + slot is a free port), ``PATCHWARDEN_IMAGE`` (the image
    name), ``PATCHWARDEN_IMAGE_VERSION`` (``1.0.0/2``), ``PATCHWARDEN_IMAGE_TAG``
    (``1.0.0-2``), ``PATCHWARDEN_IMAGE_DIGEST`` (``sha256:…``), ``PATCHWARDEN_IMAGE_LAYOUT``
    (the OCI layout directory holding the image under the tag) and
    ``PATCHWARDEN_IMAGE_REFERENCES`` (where the image was pushed: space-separated
    ``registry/repository:tag``, empty when it was not pushed).  The last non-empty line of
    its stdout is the instance's address ``host:port``, optionally followed by a space and
    a handle (one word: a pid, a container id) that the stop hook gets back; the lines
    before it are logged.

Stop hook (``stop``)
    stops one instance and removes what it left; stopping an instance that is already gone
    must succeed (exit 0).  Environment: ``PATCHWARDEN_INSTANCE``, ``PATCHWARDEN_ADDRESS``
    (what the start hook printed) and ``PATCHWARDEN_HANDLE`` (the handle it printed, or
    empty).  Its output is logged.

Route hook (``route``)
    sends the service's traffic to instances by weight.  Its stdin is a JSON array of
    ``{"address": "127.0.0.1:18081", "weight": 9}`` objects (weights are positive
    integers, at least one object); ``PATCHWARDEN_ENDPOINT`` is the endpoint clients use.
    It must return only once new requests follow the new weights.  Its output is logged.

Example hooks (a local process per instance; Kubernetes) are in
``examples/deployments/hooks``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from patchwarden.core.imagebuild import ImageRecord
from patchwarden.errors import AdapterError, EnvironmentProblem, InputError
from patchwarden.ports import StartedInstance

log = logging.getLogger("patchwarden.deploy")

DEFAULT_TIMEOUT = 300.0
"""Seconds a hook may run."""


def substitute(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``argv`` with each ``{key}`` of ``values`` replaced in every element."""
    out = []
    for word in argv:
        for key, value in values.items():
            word = word.replace("{" + key + "}", value)
        out.append(word)
    return out


def image_environment(image: ImageRecord) -> dict[str, str]:
    """The ``PATCHWARDEN_IMAGE*`` variables of the start hook."""
    references = [f"{d.destination}:{tag}" for d in image.distributed for tag in d.tags]
    return {
        "PATCHWARDEN_IMAGE": image.name,
        "PATCHWARDEN_IMAGE_VERSION": str(image.version),
        "PATCHWARDEN_IMAGE_TAG": image.version.tag,
        "PATCHWARDEN_IMAGE_DIGEST": image.digest,
        "PATCHWARDEN_IMAGE_LAYOUT": image.layout,
        "PATCHWARDEN_IMAGE_REFERENCES": " ".join(references),
    }


def parse_started(stdout: str, instance: str) -> tuple[str, str]:
    """(address, handle) from the start hook's stdout (see module); AdapterError when its
    last non-empty line is not ``host:port [handle]``."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise AdapterError(f"start hook for {instance} printed no address (host:port)")
    address, _, handle = lines[-1].partition(" ")
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AdapterError(
            f"start hook for {instance}: last line must be host:port [handle], got {lines[-1]!r}"
        )
    return address, handle.strip()


def run_hook(
    what: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    stdin: str | None = None,
) -> str:
    """Run one hook; its stdout.  Stderr is logged; failures raise (see module)."""
    full_env = {**os.environ, **env}
    try:
        proc = subprocess.Popen(
            list(argv), env=full_env, text=True, errors="replace",
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise EnvironmentProblem(f"{what}: {argv[0]}: command not found") from None
    except PermissionError:
        raise EnvironmentProblem(f"{what}: {argv[0]} is not executable (chmod +x)") from None
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise AdapterError(f"{what} timed out after {timeout:g} s (killed)") from None
    for line in stderr.splitlines():
        if line.strip():
            log.info("%s: %s", what, line.rstrip())
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        raise AdapterError(f"{what} exited with {proc.returncode}: {last}")
    return stdout


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    # a descendant in another session may hold the pipes: leave them then
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


class CommandDeployer:
    """Starts and stops instances with operator hooks (see module)."""

    def __init__(
        self,
        start: Sequence[str],
        stop: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not start or not stop:
            raise InputError("CommandDeployer needs a start and a stop command")
        self.start_argv = tuple(start)
        self.stop_argv = tuple(stop)
        self.env = dict(env or {})
        self.timeout = timeout

    def start(self, image: ImageRecord, instance: str, slot: int) -> StartedInstance:
        """Run the start hook; the instance at the address it printed."""
        env = {
            **self.env,
            **image_environment(image),
            "PATCHWARDEN_INSTANCE": instance,
            "PATCHWARDEN_SLOT": str(slot),
        }
        argv = substitute(self.start_argv, {"instance": instance, "slot": str(slot)})
        what = f"start hook for {instance}"
        stdout = run_hook(what, argv, env, timeout=self.timeout)
        address, handle = parse_started(stdout, instance)
        lines = [ln.rstrip() for ln in stdout.splitlines() if ln.strip()]
        for line in lines[:-1]:
            log.info("%s: %s", what, line)
        return StartedInstance(instance, address, handle=handle)

    def stop(self, started: StartedInstance) -> None:
        """Run the stop hook for ``started``."""
        env = {
            **self.env,
            "PATCHWARDEN_INSTANCE": started.instance,
            "PATCHWARDEN_ADDRESS": started.address,
            "PATCHWARDEN_HANDLE": started.handle,
        }
        values = {
            "instance": started.instance, "address": started.address, "handle": started.handle,
        }  # fmt: skip
        what = f"stop hook for {started.instance}"
        stdout = run_hook(what, substitute(self.stop_argv, values), env, timeout=self.timeout)
        _log_lines(what, stdout)


class CommandRouter:
    """Routes traffic by weight with an operator hook (see module)."""

    def __init__(
        self,
        route: Sequence[str],
        endpoint: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not route:
            raise InputError("CommandRouter needs a route command")
        self.route_argv = tuple(route)
        self._endpoint = endpoint
        self.env = dict(env or {})
        self.timeout = timeout

    def endpoint(self) -> str:
        """``host:port`` clients use."""
        return self._endpoint

    def route(self, weights: Sequence[tuple[str, int]]) -> None:
        """Run the route hook with ``weights`` as JSON on its stdin."""
        pairs = [(str(address), weight) for address, weight in weights]
        if not pairs:
            raise InputError("route: give at least one (address, weight) pair")
        for address, weight in pairs:
            if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                raise InputError(f"route: weight of {address} must be a positive integer")
        document = json.dumps([{"address": a, "weight": w} for a, w in pairs])
        env = {**self.env, "PATCHWARDEN_ENDPOINT": self._endpoint}
        argv = substitute(self.route_argv, {"endpoint": self._endpoint})
        stdout = run_hook("route hook", argv, env, timeout=self.timeout, stdin=document)
        _log_lines("route hook", stdout)


def _log_lines(what: str, text: str) -> None:
    for line in text.splitlines():
        if line.strip():
            log.info("%s: %s", what, line.rstrip())
