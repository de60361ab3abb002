"""The node components' files on the server's disk, pruned in the background: the rebuilt
roots of nodes no longer registered, and every uploaded fact file no root uses any more
(:meth:`patchwarden.adapters.os.remote.RemoteRoots.prune`).  Without it the blob store would
keep every version of every package list the fleet ever uploaded."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.concurrency import run_in_threadpool

from patchwarden.adapters.os.remote import Pruned, RemoteRoots
from patchwarden.adapters.storage.nodes import registered_ids
from patchwarden.server.db import Database
from patchwarden.server.settings import ServerSettings

log = logging.getLogger("patchwarden.server")

GRACE_SECONDS = 86400.0
"""What is younger than a day stays: a body uploaded a moment ago that no facts name yet,
the root of a node deregistered a moment ago."""


def prune(db: Database, settings: ServerSettings, grace: float = GRACE_SECONDS) -> Pruned:
    """One round: what no registered node uses any more, and is older than ``grace``
    seconds, goes.  Ages are the files' own (wall-clock) times, not the server's clock."""
    with db.read() as session:
        registered = registered_ids(session)
    done = RemoteRoots(settings.data_dir).prune(registered, grace, time.time())
    if done.roots or done.blobs:
        log.info(
            "pruned %d rebuilt root(s) and %d fact file(s) (%.1f MiB) no node uses",
            done.roots,
            done.blobs,
            done.freed / 2**20,
        )
    return done


async def loop(db: Database, settings: ServerSettings, seconds: float) -> None:
    """:func:`prune` every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(prune, db, settings)
        except Exception:  # tried again at the next round
            log.exception("pruning the node components' files failed")
