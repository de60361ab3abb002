"""A spinner on stderr for anything slower than a second — only on a TTY."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def progress(message: str, delay: float = 1.0) -> Iterator[None]:
    """Show ``message`` with a spinner if the block is still running after ``delay`` s."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    status: list[Any] = []
    lock = threading.Lock()
    done = threading.Event()

    def start() -> None:
        with lock:
            if not done.is_set():
                s = Console(stderr=True).status(message)
                s.start()
                status.append(s)

    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            done.set()
            for s in status:
                s.stop()
            status.clear()
