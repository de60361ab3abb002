"""The server's log output: human text (the default) or one JSON object per line
(``patchwarden server --log-format json`` or ``PATCHWARDEN_LOG_FORMAT=json``).

A JSON line has ``ts`` (ISO-8601, UTC), ``level``, ``logger`` and ``message``; an
application event's line (logger ``patchwarden.events``) also carries the event's fields
(``id``, ``type``, ``at``, ``severity``, ``subject``, ``summary``, ``details``); an
exception its traceback as ``exc``.  Both formats go to standard error through the stdlib
``logging`` configuration uvicorn applies (:func:`log_config`), for uvicorn's loggers and
Patchwarden's own.  Nothing secret is logged: tokens are never, and webhook URLs only by
scheme and host.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from patchwarden.errors import InputError

FORMAT_ENV = "PATCHWARDEN_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def format_from_env(given: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """``given`` (the command-line option), else ``PATCHWARDEN_LOG_FORMAT``, else ``text``;
    a one-line :class:`InputError` for anything but ``text`` or ``json``."""
    value = (given or environ.get(FORMAT_ENV, "") or "text").strip().lower()
    if value not in FORMATS:
        raise InputError(f"{FORMAT_ENV}: text or json, got {value!r}")
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """``ts``, ``level``, ``logger``, ``message``, the event's fields, ``exc``."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if isinstance(event, Mapping):
            for key, value in event.items():
                line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config(fmt: str, level: str) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn's ``log_config``: uvicorn's loggers
    and ``patchwarden`` at ``level``, in format ``fmt`` (``text`` or ``json``)."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": fmt, "stream": "ext://sys.stderr"}
    logger = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {fmt: formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": logger,
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": logger,
            "patchwarden": logger,
        },
    }
