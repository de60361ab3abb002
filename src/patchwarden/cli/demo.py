"""``patchwarden demo`` — a server with a small sandbox fleet, seeded, on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.demo.fleet import Ready


class Stopped(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived."""


def _stop(signum: int, _frame: Any) -> None:
    raise Stopped(signum)


def _prog() -> str:
    """How to call this ``patchwarden`` again: its name when the PATH finds it, else its
    path."""
    import shutil
    import sys

    found = shutil.which("patchwarden")
    here = Path(sys.argv[0])
    if here.name == "patchwarden":
        return "patchwarden" if found and Path(found).resolve() == here.resolve() else str(here)
    return "patchwarden" if found else f"{sys.executable} -m patchwarden"


def _render(ready: Ready, prog: str = "patchwarden") -> str:
    """What the demo prints once ready: where, the two tokens (the only place they are
    shown), the fleet, and what to try."""
    snap = ready.snapshot
    url = ready.url
    ids = ready.node_ids
    lines = [
        f"Patchwarden demo ready in {ready.seconds:.0f} s: {url}",
        "",
        f"  admin token     {ready.admin_token}",
        f"  operator token  {ready.operator_token}",
        "  (shown only here; the server keeps only their hashes)",
        "",
        f"  nodes ({len(ready.plans)}, online, each a sandbox root driven by real apt):",
    ]
    for plan in ready.plans:
        node_id = ids[plan.name]
        tags = ", ".join(f"{k}={v}" for k, v in plan.tags.items())
        lines.append(
            f"    {plan.name:<7} {node_id}  {snap.compliance.get(node_id, '?'):<13}  "
            f"{plan.story} [{tags}]"
        )
    counts = ", ".join(f"{n} {s}" for s, n in snap.finding_counts.items())
    window = snap.window or {}
    pack = snap.pack or {}
    lines += [
        f"  findings        {snap.findings} active ({counts})",
        f"  window          {window.get('name')}: {window.get('schedule')} in UTC, next "
        f"{window.get('next_execution_time')}",
        "                  (installs the web group's approved patches, then a sandbox reboot)",
        f"  conformance     {pack.get('name')}: score {pack.get('score')}, "
        f"{pack.get('compliance')}",
        "",
        "Try (with the operator token):",
        f"  export PATCHWARDEN_SERVER={url} PATCHWARDEN_TOKEN=<operator token>",
        f"  {prog} get nodes",
        f"  {prog} get compliance",
        f"  {prog} get findings",
        f"  {prog} window list",
        f"  {prog} conformance score patching-essentials",
        f"  {prog} command send --operation Install --patch-group db",
        f'  curl -H "Authorization: Bearer $PATCHWARDEN_TOKEN" {url}/api/v1/nodes',
        f"Open {url}/ in a browser (the console; log in with a token), or {url}/docs for the API.",
        "",
        f"Files: {ready.directory}"
        + (" (kept)" if ready.kept else " (removed when the demo stops)"),
    ]
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    import signal
    import sys

    from patchwarden.demo.fleet import Demo, check_tools
    from patchwarden.errors import EnvironmentProblem, PatchwardenError

    def progress(message: str) -> None:
        print(f"demo: {message}", file=sys.stderr, flush=True)

    check_tools()
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # HUP: the terminal closed
    for signum in stops:
        signal.signal(signum, _stop)
    ready = None
    demo = Demo(args.nodes, args.port, Path(args.dir) if args.dir else None, progress)
    logs = f"logs in {demo.path / 'logs'}" if args.dir else "rerun with --dir DIR to keep the logs"
    try:
        try:
            ready = demo.start()
        except PatchwardenError as exc:
            raise EnvironmentProblem(f"{exc} ({logs})") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # one line, never a traceback
            raise EnvironmentProblem(f"the demo failed: {exc!r} ({logs})") from None
        print(_render(ready, _prog()), flush=True)
        if args.check:
            print(
                "check passed: nodes online, both compliance states, findings, a "
                "scheduled window, a scored conformance pack",
                flush=True,
            )
            return 0
        print("Ctrl-C stops the demo.", flush=True)
        demo.wait()
    except Stopped:
        if ready is None:
            progress("interrupted")
            return 130
    finally:
        for signum in stops:
            signal.signal(signum, signal.SIG_IGN)
        progress("stopping the agents and the server")
        demo.close()
    progress("stopped")
    return 0


def register(sub: Any) -> None:
    """Add ``demo``."""
    demo = sub.add_parser(
        "demo",
        help="start a server with a small sandbox fleet (real apt, agents, findings), offline",
        description="Start a server on 127.0.0.1 with a few sandbox nodes (roots driven by "
        "real apt, some compliant, some not), patch groups and baselines, a maintenance "
        "window, the patching-essentials conformance pack and sample vulnerability data; "
        "print the URL and an admin and an operator token; run until Ctrl-C, then stop "
        "everything and remove its files. Needs dpkg-deb, apt-get and apt-ftparchive.",
    )
    demo.add_argument(
        "--port", type=int, help="port on 127.0.0.1 (default 8080 when free, else any free one)"
    )
    demo.add_argument("--nodes", type=int, default=4, help="sandbox nodes (2-16, default 4)")
    demo.add_argument(
        "--dir",
        metavar="DIR",
        help="keep everything here (a new or empty directory; kept afterwards) instead of a "
        "temporary directory removed on exit",
    )
    demo.add_argument(
        "--check",
        action="store_true",
        help="set up, verify that the fleet is populated, print the summary, stop and exit 0",
    )
    demo.set_defaults(handler=_demo)
