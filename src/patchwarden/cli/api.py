"""The CLI's HTTP client of the fleet server (``--server``/``PATCHWARDEN_SERVER``,
``--token``/``PATCHWARDEN_TOKEN``): unreachable → exit 3, refused → exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from patchwarden.cli.common import printable

DEFAULT_SERVER = "http://127.0.0.1:8080"


def add_connection_options(
    p: argparse.ArgumentParser, formats: tuple[str, ...] = ("table", "json")
) -> None:
    """``--server``, ``--token`` and ``--format`` (one of ``formats``)."""
    p.add_argument(
        "--server",
        metavar="URL",
        help=f"server URL (env PATCHWARDEN_SERVER; default {DEFAULT_SERVER})",
    )
    p.add_argument("--token", metavar="TOKEN", help="API token (env PATCHWARDEN_TOKEN)")
    p.add_argument("--format", "-o", choices=formats, default="table", help="output format")


class ServerApi:
    """The operator's side of the API: :class:`ApiClient` with ``--server``/``--token``
    (unreachable or 5xx → exit 3, refused → exit 2)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from patchwarden.adapters.api_client import ApiClient

        url = args.server or os.environ.get("PATCHWARDEN_SERVER") or DEFAULT_SERVER
        if args.token is not None and not args.token.strip():
            from patchwarden.errors import InputError

            raise InputError("--token is empty (omit it to use PATCHWARDEN_TOKEN)")
        token = args.token or os.environ.get("PATCHWARDEN_TOKEN", "")
        self._api = ApiClient(url, bearer=token, timeout=60)
        self.url = self._api.server

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """The JSON answer of ``method path``."""
        return self._api.call(method, path, **kw)


def print_json(value: Any) -> None:
    """Pretty JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain aligned table of ``columns`` (non-printable characters escaped)."""
    cells = [[str(c).upper() for c in columns]]
    for row in rows:
        cells.append(["" if row.get(c) is None else printable(row.get(c)) for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for r in cells:
        sys.stdout.write(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n"
        )


def show(args: argparse.Namespace, value: Any, columns: Sequence[str]) -> None:
    """JSON with ``--format json`` (exact), else a table (a list) or ``key: value`` lines
    (non-printable characters escaped)."""
    if args.format == "json":
        print_json(value)
    elif isinstance(value, list):
        print_table(value, columns)
    else:
        for key in columns:
            sys.stdout.write(f"{key}: {printable(value.get(key))}\n")
