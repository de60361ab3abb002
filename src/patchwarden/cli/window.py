"""``patchwarden window …`` — maintenance windows.

Sections: ``window next`` (schedule preview, offline) first; the server-backed subcommands
(``history`` …) register themselves through :data:`add_subcommands` or are appended below.
Only argparse is imported at module level; handlers import their work.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

SubcommandRegistrar = Callable[[Any], None]
add_subcommands: list[SubcommandRegistrar] = []
MAX_COUNT = 1000
"""Extra ``window`` subcommands: each is called with the ``window`` sub-parsers object."""


def register(sub: Any) -> None:
    """Add the ``window`` command group."""
    window = sub.add_parser("window", help="maintenance windows")
    wsub = window.add_subparsers(dest="window_command", metavar="COMMAND", required=True)
    _register_next(wsub)
    for extra in add_subcommands:
        extra(wsub)


# --- window next: preview a schedule expression ---------------------------------------------


def _register_next(wsub: Any) -> None:
    p = wsub.add_parser(
        "next",
        help="print the upcoming runs of a schedule expression",
        description="Print the upcoming runs of cron(...), rate(...) or at(...) in the "
        "window's time zone and in UTC (AWS maintenance-window semantics; docs/schedules.md).",
    )
    p.add_argument("--schedule", required=True, metavar="EXPR", help="e.g. 'cron(0 2 ? * SUN *)'")
    p.add_argument(
        "--timezone", default="UTC", metavar="TZ", help="IANA ScheduleTimezone (default UTC)"
    )
    p.add_argument(
        "--count",
        "-n",
        type=int,
        default=5,
        metavar="N",
        help=f"runs to show (default 5, at most {MAX_COUNT})",
    )
    p.add_argument("--offset", type=int, metavar="DAYS", help="ScheduleOffset 1-6 (cron only)")
    p.add_argument("--after", metavar="ISO", help="start from this time (default: now)")
    p.add_argument("--start", metavar="ISO", help="StartDate (also the rate anchor)")
    p.add_argument("--end", metavar="ISO", help="EndDate")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.set_defaults(handler=_next)


def _instant(option: str, text: str | None, timezone: str) -> Any:
    """An ISO 8601 option value; a value without an offset is wall time in ``timezone``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from patchwarden.core.schedule import validate_timezone
    from patchwarden.errors import InputError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--{option}: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        validate_timezone(timezone)
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


def _next(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC

    from patchwarden.cli.common import now
    from patchwarden.core.schedule import (
        check_fires,
        next_runs,
        parse_schedule,
        validate_timezone,
    )
    from patchwarden.errors import InputError

    if args.count < 1:
        raise InputError(f"--count {args.count}: must be at least 1")
    if args.offset is not None and not 1 <= args.offset <= 6:
        raise InputError(f"--offset {args.offset}: ScheduleOffset must be 1-6 days")
    schedule = parse_schedule(args.schedule)
    validate_timezone(args.timezone)
    after = _instant("after", args.after, args.timezone) or now()
    check_fires(schedule, after, timezone=args.timezone)  # never fires: the error apply gives
    runs = next_runs(
        schedule.expression,
        after=after,
        count=min(args.count, MAX_COUNT),
        timezone=args.timezone,
        offset_days=args.offset or 0,
        start=_instant("start", args.start, args.timezone),
        end=_instant("end", args.end, args.timezone),
    )
    tz = _zone(args.timezone)
    if args.format == "json":
        rows = [
            {
                "local": run.astimezone(tz).isoformat(),
                "utc": run.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
            for run in runs
        ]
        print(
            json.dumps(
                {"schedule": schedule.expression, "timezone": args.timezone, "runs": rows}, indent=2
            )
        )
        return 0
    for run in runs:
        local = run.astimezone(tz)
        print(
            f"{local:%a %Y-%m-%d %H:%M:%S} {local.tzname() or ''}  "
            f"({run.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})"
        )
    if len(runs) < min(args.count, MAX_COUNT):
        print(f"(no further runs: {schedule.expression} ends)")
    return 0


def _zone(name: str) -> Any:
    from datetime import UTC
    from zoneinfo import ZoneInfo

    return UTC if name in ("UTC", "Etc/UTC", "Z") else ZoneInfo(name)


# --- further window subcommands (history, …) go below or into add_subcommands ---------------


# --- server-backed: window list | history NAME | execution ID | cancel ID (issue 5, windows) -


def _register_server(wsub: Any) -> None:
    from patchwarden.cli.api import add_connection_options

    lst = wsub.add_parser("list", help="the server's maintenance windows")
    add_connection_options(lst)
    lst.set_defaults(handler=_list)
    history = wsub.add_parser("history", help="a window's executions, newest first")
    history.add_argument("name", help="the window's metadata.name")
    history.add_argument("--limit", type=int, default=20, help="executions to show (20)")
    add_connection_options(history)
    history.set_defaults(handler=_history)
    execution = wsub.add_parser("execution", help="one execution: its tasks, waves and invocations")
    execution.add_argument("execution_id", help="the window execution")
    add_connection_options(execution)
    execution.set_defaults(handler=_execution)
    cancel = wsub.add_parser("cancel", help="cancel a running execution")
    cancel.add_argument("execution_id", help="the window execution")
    add_connection_options(cancel)
    cancel.set_defaults(handler=_cancel)


def _list(args: argparse.Namespace) -> int:
    from patchwarden.cli.api import ServerApi, show

    rows = ServerApi(args).call("GET", "/api/v1/windows")
    show(args, rows, ["name", "enabled", "schedule", "schedule_timezone", "next_execution_time"])
    return 0


def _history(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from patchwarden.cli.api import ServerApi, show

    path = f"/api/v1/windows/{quote(args.name, safe='')}/executions"
    rows = ServerApi(args).call("GET", path, params={"limit": max(1, min(args.limit, 1000))})
    cols = ["window_execution_id", "scheduled_for", "status", "status_details", "end_time"]
    show(args, rows, cols)
    return 0


def _execution(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from patchwarden.cli.api import ServerApi, print_table, show

    run = ServerApi(args).call("GET", f"/api/v1/windows/-/executions/{quote(args.execution_id)}")
    show(
        args,
        run,
        [
            "window_execution_id",
            "window_name",
            "scheduled_for",
            "status",
            "status_details",
            "target_count",
        ],
    )
    if args.format != "json":
        rows = [{**task, "waves": "+".join(str(w) for w in task["waves"])} for task in run["tasks"]]
        print_table(rows, ["task_name", "priority", "status", "waves", "errors", "status_details"])
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from patchwarden.cli.api import ServerApi, show

    path = f"/api/v1/windows/-/executions/{quote(args.execution_id)}/cancel"
    show(args, ServerApi(args).call("POST", path), ["window_execution_id", "status"])
    return 0


add_subcommands.append(_register_server)
