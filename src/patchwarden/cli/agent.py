"""``patchwarden agent register|run|rotate-credential|install-service``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _state_dir(args: argparse.Namespace) -> Path:
    from patchwarden.agent.register import default_state_dir

    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _register(args: argparse.Namespace) -> int:
    from patchwarden.agent.register import parse_tags, register

    config = register(
        _state_dir(args),
        args.server,
        args.activation_id,
        args.activation_code,
        tags=parse_tags(args.tag or []),
        root=args.root,
        name=args.name or "",
    )
    print(f"registered as {config.node_id} (state in {config.state_dir})")
    return 0


QUIET_LOGGERS = ("httpx", "httpcore")
"""HTTP client loggers (a line per request at INFO): WARNING unless ``--log-level debug``."""


def configure_logging(level: str = "info") -> None:
    """The agent's logging: ``level`` for its own lines (one per ended invocation at INFO);
    the HTTP request lines of every poll only at ``debug``."""
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    from patchwarden.agent.loop import Agent
    from patchwarden.agent.register import AgentConfig

    configure_logging(args.log_level)
    if args.image_builder:
        from patchwarden.agent.images import can_build_images
        from patchwarden.errors import EnvironmentProblem

        why = can_build_images()
        if why:
            raise EnvironmentProblem(f"--image-builder: {why}")
    agent = Agent(
        AgentConfig.load(_state_dir(args)),
        poll_wait=args.poll_wait,
        inventory_interval=args.inventory_interval,
        image_builder=args.image_builder,
    )
    try:
        agent.run(once=args.once)
    finally:
        agent.close()
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from patchwarden.agent.client import NodeApi
    from patchwarden.agent.register import AgentConfig

    config = AgentConfig.load(_state_dir(args))
    client = NodeApi(config.server, config.credential)
    try:
        config.save_credential(client.rotate().credential)
    finally:
        client.close()
    print(f"credential of {config.node_id} rotated")
    return 0


def _install_service(args: argparse.Namespace) -> int:
    from patchwarden.cli.services import install_agent

    return install_agent(_state_dir(args), Path(args.unit_dir), not args.no_enable)


def register(sub: Any) -> None:
    """Add ``agent``."""
    agent = sub.add_parser("agent", help="the node agent")
    asub = agent.add_subparsers(dest="agent_command", metavar="COMMAND", required=True)
    reg = asub.add_parser("register", help="register this node (or a --root) with a server")
    reg.add_argument("--server", required=True, metavar="URL", help="the server's base URL")
    reg.add_argument("--activation-id", required=True, help="from `patchwarden activation create`")
    reg.add_argument("--activation-code", required=True, help="shown once by `activation create`")
    reg.add_argument(
        "--tag", action="append", metavar="K=V", help="a tag of this node (repeatable)"
    )
    reg.add_argument("--name", help="node name (default: the activation's, else the hostname)")
    reg.add_argument("--root", default="/", metavar="DIR", help="manage this root (sandboxes)")
    reg.set_defaults(handler=_register)
    run = asub.add_parser("run", help="run the agent (long-poll for commands)")
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument(
        "--poll-wait",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="long-poll wait for commands (default 20)",
    )
    run.add_argument(
        "--inventory-interval",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="upload the inventory at least this often (default 3600)",
    )
    run.add_argument(
        "--image-builder",
        action="store_true",
        help="also build images for the server's image pipelines (root; mmdebstrap, umoci, "
        "skopeo; a vulnerability database for scan gates)",
    )
    run.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="info: one line per ended invocation; debug: also every HTTP request",
    )
    run.set_defaults(handler=_run)
    rot = asub.add_parser("rotate-credential", help="get a new node credential")
    rot.set_defaults(handler=_rotate)
    svc = asub.add_parser(
        "install-service",
        help="write the systemd unit running this patchwarden's agent, then "
        "systemctl daemon-reload and enable --now (docs/services.md)",
    )
    svc.add_argument(
        "--unit-dir",
        default="/etc/systemd/system",
        metavar="DIR",
        help="where to write patchwarden-agent.service (default /etc/systemd/system)",
    )
    svc.add_argument("--no-enable", action="store_true", help="only write the unit (no systemctl)")
    svc.set_defaults(handler=_install_service)
    for p in (reg, run, rot, svc):
        p.add_argument("--state-dir", metavar="DIR", help="default <data dir>/agent")
