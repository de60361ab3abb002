"""Registration and the agent's state directory (default ``<data dir>/agent``).

``agent.json`` holds the server URL, node id and root; ``credential`` holds the node
credential, readable by its owner only (0600).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from patchwarden import __version__, wire
from patchwarden.agent.client import NodeApi
from patchwarden.errors import EnvironmentProblem, InputError


def default_state_dir() -> Path:
    """``$PATCHWARDEN_AGENT_DIR`` or ``<data dir>/agent``."""
    env = os.environ.get("PATCHWARDEN_AGENT_DIR")
    if env:
        return Path(env).expanduser()
    from patchwarden import settings

    return settings.data_dir() / "agent"


@dataclass(frozen=True)
class AgentConfig:
    """What registration leaves in the state directory."""

    state_dir: Path
    server: str
    node_id: str
    root: str
    credential: str

    @classmethod
    def load(cls, state_dir: Path) -> AgentConfig:
        """Read a registered agent's configuration (exit 3 when not registered)."""
        try:
            data = json.loads((state_dir / "agent.json").read_text())
            credential = (state_dir / "credential").read_text().strip()
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(
                f"{state_dir}: no registered agent here (run `patchwarden agent register`): {exc}"
            ) from None
        return cls(state_dir, data["server"], data["node_id"], data["root"], credential)

    def save_credential(self, credential: str) -> AgentConfig:
        """Write a (new) credential, 0600, atomically."""
        tmp = self.state_dir / "credential.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(credential + "\n")
        os.replace(tmp, self.state_dir / "credential")
        return AgentConfig(self.state_dir, self.server, self.node_id, self.root, credential)


def node_facts(root: str, capabilities: tuple[str, ...] = ()) -> wire.NodeFacts:
    """Hostname and OS facts of the root (os-release), and what the agent can do."""
    from patchwarden.adapters.os.osrelease import read_os_info

    info = read_os_info(root)
    hostname = socket.gethostname()
    if root != "/":
        with contextlib.suppress(OSError):
            hostname = (Path(root) / "etc/hostname").read_text().strip() or hostname
    return wire.NodeFacts(
        hostname=hostname,
        os_id=info.id,
        os_version=info.version_id,
        operating_system=info.operating_system,
        product=info.product,
        agent_version=__version__,
        capabilities=",".join(capabilities),
    )


def parse_tags(items: list[str]) -> dict[str, str]:
    """``["Env=prod", "Patch Group=web"]`` → a dict (``--tag K=V``)."""
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--tag: expected KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def register(
    state_dir: Path,
    server: str,
    activation_id: str,
    activation_code: str,
    *,
    tags: dict[str, str],
    root: str = "/",
    name: str = "",
    verify: bool | str = True,
) -> AgentConfig:
    """Register with the server and write the state directory."""
    root = str(Path(root).resolve())
    if (state_dir / "agent.json").exists():
        raise InputError(f"{state_dir}: this agent is registered already (remove it first)")
    body = wire.Registration(activation_id, activation_code, node_facts(root), tags, name)
    client = NodeApi(server, verify=verify)
    try:
        answer = client.register(body)
    finally:
        client.close()
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    config = AgentConfig(state_dir, server, answer.node_id, root, "")
    config = config.save_credential(answer.credential)
    (state_dir / "agent.json").write_text(
        json.dumps({"server": server, "node_id": config.node_id, "root": root}, indent=2) + "\n"
    )
    return config
