"""Registration: the root's OS facts (os-release) sent with an activation, and the
credential the server answers written to ``node.json`` (0600)."""

import os
from typing import Dict, List

from patchwarden import __version__, wire
from patchwarden.node import facts as facts_mod
from patchwarden.node.client import Api
from patchwarden.node.state import CONFIG, NodeConfig, NodeProblem
from patchwarden.osnames import os_names, parse_os_release


def read_os_release(root: str) -> Dict[str, str]:
    """The fields of ``etc/os-release`` (or ``usr/lib/os-release``) of the root."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                return parse_os_release(fh.read())
        except OSError:
            continue
    raise NodeProblem("no etc/os-release in root {!r}: cannot tell the OS".format(root))


def node_facts(root: str) -> wire.NodeFacts:
    """Hostname and OS facts of the root."""
    names = os_names(read_os_release(root))
    return wire.NodeFacts(
        hostname=facts_mod.hostname(root),
        os_id=names.os_id,
        os_version=names.version_id,
        operating_system=names.operating_system,
        product=names.product,
        agent_version=__version__,
    )


def parse_tags(items: List[str]) -> Dict[str, str]:
    """``["Env=prod", "Patch Group=web"]`` → a dict."""
    tags = {}  # type: Dict[str, str]
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise NodeProblem("--tag: expected KEY=VALUE, got {!r}".format(item), 2)
        tags[key] = value
    return tags


def normal_root(root: str) -> str:
    """``/`` or the resolved directory."""
    resolved = os.path.realpath(root)
    return "/" if resolved == "/" else resolved


def register(
    state_dir: str,
    server: str,
    activation_id: str,
    activation_code: str,
    tags: Dict[str, str],
    root: str = "/",
    name: str = "",
    ca_file: str = "",
) -> NodeConfig:
    """Register with the server and write ``node.json``."""
    root = normal_root(root)
    if not os.path.isdir(root):
        raise NodeProblem("root {!r} does not exist or is not a directory".format(root), 2)
    if os.path.exists(os.path.join(state_dir, CONFIG)):
        raise NodeProblem(
            "{}: this node is registered already (remove {} first)".format(state_dir, CONFIG), 2
        )
    if ca_file:
        ca_file = os.path.abspath(ca_file)
    server = server.rstrip("/")
    body = wire.Registration(activation_id, activation_code, node_facts(root), tags, name)
    answer = Api(server, ca_file=ca_file).register(body)
    config = NodeConfig(state_dir, server, answer.node_id, answer.credential, root, ca_file)
    config.save()
    return config
