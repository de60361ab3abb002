"""The CLI's HTTP client of the fleet server (``--server``/``PATCHWARDEN_SERVER``,
``--token``/``PATCHWARDEN_TOKEN``): unreachable → exit 3, refused → exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from patchwarden.errors import EnvironmentProblem, InputError

DEFAULT_SERVER = "http://127.0.0.1:8080"


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """``--server`` and ``--token``."""
    p.add_argument(
        "--server",
        metavar="URL",
        help=f"server URL (env PATCHWARDEN_SERVER; default {DEFAULT_SERVER})",
    )
    p.add_argument("--token", metavar="TOKEN", help="API token (env PATCHWARDEN_TOKEN)")
    p.add_argument(
        "--format", "-o", choices=("table", "json"), default="table", help="output format"
    )


class ServerApi:
    """A few verbs over httpx with the error translation of the CLI."""

    def __init__(self, args: argparse.Namespace) -> None:
        import httpx

        self.url = (args.server or os.environ.get("PATCHWARDEN_SERVER") or DEFAULT_SERVER).rstrip(
            "/"
        )
        token = args.token or os.environ.get("PATCHWARDEN_TOKEN", "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """The JSON answer; exit 3 when the server is unreachable, 2 when it refuses."""
        import httpx

        try:
            response = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise EnvironmentProblem(f"cannot reach the server at {self.url}: {exc}") from None
        if response.status_code >= 500:
            raise EnvironmentProblem(f"server error {response.status_code} at {self.url}{path}")
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                message = f"{err['message']} ({response.status_code} {err['code']})"
            except (ValueError, KeyError, TypeError):
                message = f"{response.status_code} {response.text[:200]}"
            raise InputError(message)
        return response.json()


def print_json(value: Any) -> None:
    """Pretty JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain aligned table of ``columns``."""
    cells = [[str(c).upper() for c in columns]]
    for row in rows:
        cells.append(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for r in cells:
        sys.stdout.write(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n"
        )


def show(args: argparse.Namespace, value: Any, columns: Sequence[str]) -> None:
    """JSON with ``--format json``, else a table (a list) or ``key: value`` lines."""
    if args.format == "json":
        print_json(value)
    elif isinstance(value, list):
        print_table(value, columns)
    else:
        for key in columns:
            sys.stdout.write(f"{key}: {value.get(key)}\n")
