"""What the CLI commands share: error handling, baseline files, clock, state."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from patchwarden.errors import InputError, PatchwardenError

if TYPE_CHECKING:
    from patchwarden.adapters.image.store import LocalImageStore
    from patchwarden.core.baseline import PatchBaseline

P = ParamSpec("P")
R = TypeVar("R")


def printable(value: object) -> str:
    """``value`` as text safe for a terminal: every non-printable character (escape
    sequences, newlines, carriage returns, bidi and other format controls) rendered as its
    Python escape (``\\x1b``, ``\\n``, ``\\u202e``).  Agents and API callers supply node
    names, facts and tags; they must never drive the operator's terminal."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def fail(message: str, code: int) -> None:
    """Print one line on stderr and exit with ``code``."""
    print(f"patchwarden: error: {printable(message)}", file=sys.stderr)
    raise SystemExit(code)


EXTRAS = {
    **dict.fromkeys(
        ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg"), "server"
    ),
    "cyclonedx": "sbom",
}
"""Top-level modules of the optional extras (a node installs neither): module → extra."""


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Translate the error tree into exit codes: one line, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PatchwardenError as exc:
            fail(str(exc), exc.exit_code)
        except ModuleNotFoundError as exc:
            extra = EXTRAS.get((exc.name or "").split(".", 1)[0])
            if extra is None:
                raise
            fail(
                f"this command needs Patchwarden's [{extra}] extra ({exc.name} is not "
                f"installed): pip install 'patchwarden[{extra}]'",
                3,
            )
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            raise SystemExit(0) from None
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def now() -> datetime:
    """The wall clock (UTC); ``PATCHWARDEN_NOW`` (ISO 8601) pins it for demos and tests."""
    from patchwarden.adapters.clock import PINNABLE

    return PINNABLE.now()


def load_baseline(path: Path) -> PatchBaseline:
    """A PatchBaseline from a Patchwarden document or raw ``aws ssm get-patch-baseline`` JSON."""
    from patchwarden.documents import load_documents
    from patchwarden.documents.baseline import BaselineDocument, import_aws_json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline file ({exc.strerror})") from exc
    if _looks_like_aws_json(text):
        imported = import_aws_json(text, str(path))
        for warning in imported.warnings:
            print(f"patchwarden: warning: {warning}", file=sys.stderr)
        return imported.baseline
    docs = [d for d in load_documents(path) if isinstance(d, BaselineDocument)]
    if len(docs) != 1:
        raise InputError(f"{path}: expected exactly one PatchBaseline document, found {len(docs)}")
    return docs[0].baseline


def _looks_like_aws_json(text: str) -> bool:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return False
    try:
        raw = json.loads(stripped)
    except (ValueError, RecursionError):  # the document loader says what is wrong, in one line
        return False
    return (
        isinstance(raw, dict)
        and "apiVersion" not in raw
        and ("BaselineId" in raw or "ApprovalRules" in raw or "OperatingSystem" in raw)
    )


FAIL_ON = ("low", "medium", "high", "critical", "kev")
"""``--fail-on``: a severity floor, or ``kev`` (any ACTIVE known-exploited finding)."""


BY = ("package", "cve")
"""``--by``: the findings table's rows (as :data:`patchwarden.render.table.BY`)."""


def finding_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--fail-on``, ``--ignore-unfixed``, ``--suppressions`` and ``--by``: how findings
    gate, what they leave out and how the table shows them (``scan`` and ``image scan``
    alike)."""
    p.add_argument(
        "--fail-on",
        type=str.lower,
        metavar="SEVERITY|kev",
        help="exit 1 when an ACTIVE finding at or above SEVERITY exists (low, medium, high, "
        "critical), or with kev when an ACTIVE finding is known exploited (CISA KEV)",
    )
    p.add_argument(
        "--fail-on-epss",
        metavar="SCORE",
        help="exit 1 when an ACTIVE finding's EPSS score (0-1, FIRST) is at or above SCORE",
    )
    p.add_argument(
        "--ignore-unfixed", action="store_true", help="leave out findings without a fixed version"
    )
    p.add_argument(
        "--suppressions",
        type=Path,
        action="append",
        metavar="FILE|DIR",
        help="Suppression documents (repeatable)",
    )
    p.add_argument(
        "--by",
        type=str.lower,
        metavar="{package,cve}",
        help="table: one row per package with its CVE count, worst severity and fixed "
        "version (package, the default), or one row per finding (cve)",
    )


def fail_on_option(value: str | None) -> str | None:
    """The ``--fail-on`` value, checked here so that a bad one is said in one line (exit 2)."""
    if value is None or value in FAIL_ON:
        return value
    raise InputError(f"--fail-on: expected one of {', '.join(FAIL_ON)}, got {value!r}")


def epss_option(value: str | None) -> float | None:
    """The ``--fail-on-epss`` score: a number from 0 to 1 (one-line error, exit 2)."""
    if value is None:
        return None
    try:
        score = float(value)
    except ValueError:
        score = -1.0
    if not 0.0 <= score <= 1.0:  # also NaN
        raise InputError(f"--fail-on-epss: expected an EPSS score from 0 to 1, got {value!r}")
    return score


def by_option(value: str | None) -> Literal["package", "cve"]:
    """The ``--by`` value (None: package), checked here rather than by argparse so that a
    bad one is said in one line (exit 2)."""
    if value is None:
        return "package"
    if value == "package":
        return "package"
    if value == "cve":
        return "cve"
    raise InputError(f"--by: expected one of {', '.join(BY)}, got {value!r}")


def actor() -> str:
    """Who runs the command (recorded in images' and deployments' history)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def image_store() -> LocalImageStore:
    """The local image store (``$PATCHWARDEN_HOME/images``)."""
    from patchwarden import settings
    from patchwarden.adapters.image.store import LocalImageStore

    return LocalImageStore(settings.images_dir())


def fit_last_column(rows: list[dict[str, Any]], columns: list[str], last: str) -> None:
    """Shorten ``last`` (with …) so that each row of the table fits the terminal."""
    from patchwarden.render.table import terminal_width

    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    room = max(20, terminal_width() - sum(widths) - 2 * len(columns))
    for row in rows:
        text = str(row[last])
        if len(text) > room:
            row[last] = text[: room - 1] + "…"
