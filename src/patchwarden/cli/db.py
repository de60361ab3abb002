"""``patchwarden db`` — the local vulnerability database: update, status, import, export.

Only argparse is imported here (and ``typing.TYPE_CHECKING``, for annotations); each
handler imports its adapters and use case, so ``patchwarden scan`` does not pay for them.
Handlers return exit codes and raise :mod:`patchwarden.errors` exceptions for failures
(translated by the main entry point).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: nothing below is imported at run time
    from patchwarden.adapters.vulndb import SqliteVulnDb
    from patchwarden.pipeline.dbupdate import ChangeResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``db`` command group."""
    db = subparsers.add_parser("db", help="the local vulnerability database")
    sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)

    update = sub.add_parser("update", help="download the feeds and rebuild the database")
    update.add_argument(
        "--feed", action="append", default=[], metavar="NAME", help="only this feed (repeatable)"
    )
    update.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="read feed NAME from URL instead of its default (repeatable: several files)",
    )
    update.add_argument(
        "--max-download", metavar="SIZE", help="largest file to accept (default 1G)"
    )
    update.add_argument("--dry-run", action="store_true", help="print what would be downloaded")
    _db_option(update)
    update.set_defaults(handler=_update)

    status = sub.add_parser("status", help="each feed's age and record count")
    status.add_argument(
        "--format", "-f", choices=("table", "json"), default="table", help="output format"
    )
    status.add_argument("--max-age", metavar="AGE", help="stale after AGE (default 3d)")
    _db_option(status)
    status.set_defaults(handler=_status)

    imp = sub.add_parser("import", help="import a database file or raw feed files (offline)")
    imp.add_argument(
        "path", metavar="FILE|DIR", help="feed files or an exported database to import"
    )
    imp.add_argument("--feed", metavar="NAME", help="the feed the raw files belong to")
    _db_option(imp)
    imp.set_defaults(handler=_import)

    export = sub.add_parser("export", help="write a copy of the database (for `db import`)")
    export.add_argument("file", metavar="FILE", help="where to write the copy")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _db_option(export)
    export.set_defaults(handler=_export)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="FILE", help="database file (default: data dir)")


def _open(args: argparse.Namespace) -> SqliteVulnDb:
    from pathlib import Path

    from patchwarden import settings
    from patchwarden.adapters.vulndb import SqliteVulnDb

    return SqliteVulnDb(Path(args.db) if args.db else settings.vulndb_path())


def _update(args: argparse.Namespace) -> int:
    from patchwarden import settings
    from patchwarden.adapters.feeds import select_feeds, url_overrides
    from patchwarden.adapters.http import HttpDownloader
    from patchwarden.cli.common import now
    from patchwarden.cli.progress import progress
    from patchwarden.errors import AdapterError
    from patchwarden.pipeline import dbupdate

    db = _open(args)
    overrides = url_overrides(args.url)
    feeds = select_feeds([f.name for f in db.feeds()], args.feed, overrides)
    if args.dry_run:
        for plan in dbupdate.plan_update(db, feeds):
            since = (
                f" (if changed since {plan.previous.updated_at:%Y-%m-%d %H:%M})"
                if plan.previous
                else ""
            )
            print(f"would download {plan.feed}: {plan.url}{since}")
        return 0
    limit = settings.parse_size(args.max_download) if args.max_download else None
    downloader = HttpDownloader(max_bytes=limit or settings.vulndb_max_download())
    try:
        with progress("updating the vulnerability database…"):
            result = dbupdate.update(db, downloader, feeds, now())
    except AdapterError as exc:
        if "download failed" not in str(exc):
            raise
        raise AdapterError(
            f"{exc} — without access to the feeds (an air-gapped site), import feed files or "
            "a database exported elsewhere: patchwarden db import FILE|DIR"
        ) from None
    finally:
        downloader.close()
    _print_change(result)
    return 0


def _print_change(result: ChangeResult) -> None:
    import sys

    per_feed: dict[str, list[int]] = {}
    for s in result.sources:
        counts = per_feed.setdefault(s.feed, [0, 0, 0])
        counts[0] += s.records
        counts[1 if s.modified else 2] += 1
    for feed, (records, changed, same) in per_feed.items():
        detail = f"{changed} updated" + (f", {same} not modified" if same else "")
        print(f"{feed}: {records:,} advisories ({detail})")
    for line in result.warnings:
        print(f"patchwarden: warning: {line}", file=sys.stderr)


def _status(args: argparse.Namespace) -> int:
    import json
    import sys

    from patchwarden import settings
    from patchwarden.cli.common import now
    from patchwarden.pipeline import dbupdate

    max_age = settings.parse_age(args.max_age) if args.max_age else settings.vulndb_max_age()
    report = dbupdate.status(_open(args), now(), max_age)
    if args.format == "json":
        doc = {
            "database": str(report.path),
            "max_age_seconds": int(report.max_age.total_seconds()),
            "stale": report.warning is not None,
            "warning": report.warning,
            "feeds": [
                {
                    "name": f.name,
                    "updated_at": f.updated_at.isoformat() if f.updated_at else None,
                    "age_seconds": int(f.age.total_seconds()) if f.age is not None else None,
                    "records": f.records,
                    "url": f.url,
                    "stale": f.stale,
                }
                for f in report.feeds
            ],
            "files": [
                {
                    "feed": s.feed,
                    "url": s.url,
                    "updated_at": s.updated_at.isoformat(),
                    "records": s.records,
                    "etag": s.etag,
                    "last_modified": s.last_modified,
                    "sha256": s.sha256,
                }
                for s in report.sources
            ],
        }
        print(json.dumps(doc, indent=2))
    elif not report.feeds:
        print(f"no vulnerability data in {report.path}")
    else:
        rows = [("FEED", "UPDATED", "AGE", "RECORDS", "URL")]
        rows += [
            (
                f.name + (" (stale)" if f.stale else ""),
                f"{f.updated_at:%Y-%m-%d %H:%M}" if f.updated_at else "never",
                dbupdate.format_age(f.age) if f.age is not None else "-",
                f"{f.records:,}",
                f.url,
            )
            for f in report.feeds
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2])]
            print("  ".join([*cells, r[3].rjust(widths[3]), r[4]]))
    if report.warning:
        print(f"patchwarden: warning: {report.warning}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from patchwarden.adapters.feeds import FEEDS, classify
    from patchwarden.cli.common import now
    from patchwarden.cli.progress import progress
    from patchwarden.pipeline import dbupdate

    db = _open(args)
    with progress("importing…"):
        result = dbupdate.import_path(db, Path(args.path), FEEDS, classify, now(), feed=args.feed)
    if result.restored is not None:
        print(f"imported the database {result.restored} into {db.path}")
    _print_change(result)
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from patchwarden.pipeline import dbupdate

    target = Path(args.file)
    if target.exists() and not args.force:
        from patchwarden.errors import InputError

        raise InputError(f"{target} exists (--force overwrites it)")
    db = _open(args)
    dbupdate.export(db, target)
    print(f"exported {db.path} to {args.file}")
    return 0
