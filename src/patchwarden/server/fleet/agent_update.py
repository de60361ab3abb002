"""The node bundles a server serves and the ``AWS-UpdateSSMAgent`` command that moves nodes
between them (upgrade, or rollback with ``allowDowngrade``)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import Request

from patchwarden.adapters.bundle import BundleStore
from patchwarden.server.errors import bad_request
from patchwarden.server.fleet.command_schema import SendCommand, UpdateAgentParameters

log = logging.getLogger("patchwarden.server")


def open_bundles(directory: Path) -> BundleStore:
    """The store of ``directory`` with the server's own version built (a directory that
    cannot be written is logged: the server runs, serving what the directory holds)."""
    store = BundleStore(directory)
    try:
        store.ensure_current()
    except OSError as exc:
        log.warning("cannot build the node bundle in %s: %s", directory, exc)
    return store


def bundles(request: Request) -> BundleStore:
    """The app's bundle store."""
    store: BundleStore = request.app.state.bundles
    return store


def with_agent_version(body: SendCommand, store: BundleStore) -> SendCommand:
    """``body`` with its ``AWS-UpdateSSMAgent`` version checked against the bundles held
    (default: the server's own, fixed now); other documents unchanged.  400 when the
    version is not held."""
    params = body.Parameters
    if not isinstance(params, UpdateAgentParameters):
        return body
    available = store.versions()
    version = params.version or store.current_version
    if version not in available:
        held = ", ".join(available) or "none"
        raise bad_request(
            f"Parameters.version: the server has no node bundle {version}; available: {held}"
        )
    fixed = params.model_copy(update={"version": version})
    return body.model_copy(update={"Parameters": fixed})
