"""``python3 patchwarden-node.pyz <command>``: register, run, version.

Errors are one line on stderr; exit 2 when the input (or the server's refusal) says the
request is wrong, 3 when the environment or the server is unavailable.
"""

import argparse
import logging
import os
import sys
from typing import List, Optional

from patchwarden import __version__
from patchwarden.node.client import Refused, Unavailable
from patchwarden.node.state import DEFAULT_STATE_DIR, NodeConfig, NodeProblem

PROG = "patchwarden-node"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "None":  # type: ignore[override]
        sys.stderr.write("{}: error: {}\n".format(self.prog, message))
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = _Parser(prog=PROG, description="Patchwarden's node component")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")

    reg = commands.add_parser("register", help="register this node with a server")
    reg.add_argument("--server", required=True, help="the server's URL")
    reg.add_argument("--activation-id", required=True)
    reg.add_argument("--activation-code", required=True)
    reg.add_argument("--root", default="/", help="the root directory to manage (default /)")
    reg.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    reg.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    reg.add_argument("--name", default="")
    reg.add_argument("--ca-file", default="", help="CA certificates to trust (PEM)")

    run = commands.add_parser("run", help="poll the server and run its commands")
    run.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument("--poll-wait", type=float, default=20.0, metavar="SECONDS")
    run.add_argument("--inventory-interval", type=float, default=3600.0, metavar="SECONDS")

    commands.add_parser("version", help="print the version")
    return top


def _fail(message: str, code: int) -> int:
    line = " ".join(str(message).split())
    sys.stderr.write("{}: {}\n".format(PROG, line))
    return code


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; the exit code."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "version":
            print("{} {}".format(PROG, __version__))
            return 0
        if args.command == "register":
            return _register(args)
        if args.command == "run":
            return _run(args)
        parser().print_usage(sys.stderr)
        return 2
    except NodeProblem as exc:
        return _fail(str(exc), exc.exit_code)
    except Refused as exc:
        return _fail(str(exc), 2)
    except Unavailable as exc:
        return _fail(str(exc), 3)
    except KeyboardInterrupt:
        return 130


def _register(args: argparse.Namespace) -> int:
    from patchwarden.node.register import parse_tags, register

    config = register(
        os.path.abspath(args.state_dir),
        args.server,
        args.activation_id,
        args.activation_code,
        parse_tags(args.tag),
        root=args.root,
        name=args.name,
        ca_file=args.ca_file,
    )
    print("registered node {} with {}".format(config.node_id, config.server))
    return 0


def _run(args: argparse.Namespace) -> int:
    from patchwarden.node.loop import Node

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    if args.poll_wait < 0 or args.inventory_interval <= 0:
        return _fail("--poll-wait must be >= 0 and --inventory-interval > 0", 2)
    config = NodeConfig.load(os.path.abspath(args.state_dir))
    node = Node(config, poll_wait=args.poll_wait, inventory_interval=args.inventory_interval)
    return node.run(once=args.once)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
