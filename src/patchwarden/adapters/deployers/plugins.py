"""The plugins of a deployment group, from its document: a deployer, a traffic router and
the health probe (shared by the CLI and the server).

Each group keeps its state under ``<base>/<group>/``: ``runc/`` (bundles, runc's state,
instance logs) and ``nginx/`` (the router's configuration, pid and logs).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from patchwarden.core.deploy.model import Deployment, HealthCheck, PluginSpec
from patchwarden.errors import InputError
from patchwarden.ports import Deployer, HealthProbe, Probe, TrafficRouter


@dataclass(frozen=True)
class Plugins:
    """What a run of one deployment group uses."""

    deployer: Deployer
    router: TrafficRouter
    probe: HealthProbe


def _strings(options: Mapping[str, object], key: str) -> list[str]:
    value = options.get(key) or []
    assert isinstance(value, list)
    return [str(v) for v in value]


def _environment(options: Mapping[str, object]) -> dict[str, str]:
    value = options.get("environment") or {}
    assert isinstance(value, dict)
    return {str(k): str(v) for k, v in value.items()}


def _timeout(options: Mapping[str, object], default: float) -> float:
    value = options.get("timeoutSeconds", default)
    assert isinstance(value, int | float)
    return float(value)


def deployer_of(spec: PluginSpec, state: Path) -> Deployer:
    """The deployer ``spec`` names (``runc``, ``command``)."""
    options = spec.options
    if spec.type == "runc":
        from patchwarden.adapters.deployers.runc import RuncDeployer

        port = options.get("basePort")
        assert isinstance(port, int)
        return RuncDeployer(
            state / "runc",
            base_port=port,
            command=_strings(options, "command"),
            env=_environment(options),
            stop_timeout=float(options.get("stopTimeoutSeconds", 10)),  # type: ignore[arg-type]
        )
    if spec.type == "command":
        from patchwarden.adapters.deployers.command import CommandDeployer

        return CommandDeployer(
            _strings(options, "start"),
            _strings(options, "stop"),
            env=_environment(options),
            timeout=_timeout(options, 300),
        )
    raise InputError(f"deployer type {spec.type!r} is not runc or command")


def router_of(spec: PluginSpec, state: Path) -> TrafficRouter:
    """The traffic router ``spec`` names (``nginx``, ``command``)."""
    options = spec.options
    if spec.type == "nginx":
        from patchwarden.adapters.deployers.nginx import NginxRouter

        return NginxRouter(state / "nginx", str(options["listen"]))
    if spec.type == "command":
        from patchwarden.adapters.deployers.command import CommandRouter

        return CommandRouter(
            _strings(options, "route"), str(options["endpoint"]), timeout=_timeout(options, 60)
        )
    raise InputError(f"traffic router type {spec.type!r} is not nginx or command")


class AllProbes:
    """Healthy when every probe is (the HTTP check and the command, when both are set)."""

    def __init__(self, probes: Sequence[HealthProbe]) -> None:
        self.probes = tuple(probes)

    def __call__(self, address: str) -> Probe:
        for probe in self.probes:
            result = probe(address)
            if not result.healthy:
                return result
        return Probe(True)


def probe_of(check: HealthCheck) -> HealthProbe:
    """The probe of a deployment's health check."""
    from patchwarden.adapters.deployers.health import CommandProbe, HttpProbe

    seconds = check.timeout.total_seconds()
    probes: list[HealthProbe] = []
    if check.http:
        probes.append(HttpProbe(check.path, check.expect_status, check.expect_body, seconds))
    if check.command:
        probes.append(CommandProbe(check.command, seconds))
    return AllProbes(probes)


def plugins_for(deployment: Deployment, base: Path) -> Plugins:
    """The deployer, router and probe of ``deployment``'s group, its state under ``base``."""
    state = base / deployment.group.name
    if deployment.group.deployer is None:
        raise InputError(
            f"deployment {deployment.name} patches hosts (deploymentGroup.hosts): "
            "the server runs it (POST /api/v1/deployments/{name}/start)"
        )
    return Plugins(
        deployer_of(deployment.group.deployer, state),
        router_of(deployment.group.router, state),
        probe_of(deployment.health),
    )


def owner_here(prefix: str = "") -> str:
    """This process as a deployment owner: ``[prefix:]host/pid``."""
    return f"{prefix + ':' if prefix else ''}{socket.gethostname()}/{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the process ``owner`` (:func:`owner_here`) still runs: a process of this
    host is checked; one of another host is assumed to run."""
    where, _, pid = owner.rpartition("/")
    if where.rpartition(":")[2] != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
