"""Deployment runs as JSON, and the local store of them (a SQLite file beside the image
catalog, ``$PATCHWARDEN_HOME/deployments.db``).

The store keeps three things: every run (its whole record, as JSON), each group's live set
(what serves it now), and the last ``Deployment`` document run for each name, so ``deploy
rollback web`` and ``deploy status`` need no file.  A stop request is a row another process
writes and the run's owner polls.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from patchwarden.adapters.state import open_private
from patchwarden.core.deploy.model import (
    DeploymentEvent,
    DeploymentRun,
    DeploymentStatus,
    Instance,
    Strategy,
)
from patchwarden.pipeline.deploy import GroupState


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def instance_json(instance: Instance) -> dict[str, Any]:
    """An instance as JSON."""
    return {
        "name": instance.name,
        "image": instance.image,
        "address": instance.address,
        "slot": instance.slot,
        "handle": instance.handle,
        "started": _ts(instance.started),
    }


def instance_of(data: dict[str, Any]) -> Instance:
    """The inverse of :func:`instance_json`."""
    return Instance(
        data["name"],
        data["image"],
        data["address"],
        int(data["slot"]),
        data.get("handle", ""),
        _dt(data.get("started")),
    )


def run_json(run: DeploymentRun) -> dict[str, Any]:
    """A run as JSON (the API's and ``-f json``'s shape)."""
    return {
        "id": run.id,
        "deployment": run.deployment,
        "group": run.group,
        "strategy": run.strategy.value,
        "image": run.image,
        "previous_image": run.previous_image,
        "status": run.status.value,
        "created": _ts(run.created),
        "updated": _ts(run.updated),
        "green_percent": run.green_percent,
        "reason": run.reason,
        "rolled_back": run.rolled_back,
        "trigger": run.trigger,
        "actor": run.actor,
        "owner": run.owner,
        "blue": [instance_json(i) for i in run.blue],
        "green": [instance_json(i) for i in run.green],
        "events": [
            {
                "at": _ts(e.at),
                "event": e.event,
                "detail": e.detail,
                "green_percent": e.green_percent,
            }
            for e in run.events
        ],
    }


def run_of(data: dict[str, Any]) -> DeploymentRun:
    """The inverse of :func:`run_json`."""
    created = _dt(data["created"])
    updated = _dt(data["updated"])
    assert created is not None and updated is not None
    return DeploymentRun(
        id=data["id"],
        deployment=data["deployment"],
        group=data["group"],
        strategy=Strategy(data["strategy"]),
        image=data["image"],
        status=DeploymentStatus(data["status"]),
        created=created,
        updated=updated,
        previous_image=data.get("previous_image", ""),
        blue=tuple(instance_of(i) for i in data.get("blue", ())),
        green=tuple(instance_of(i) for i in data.get("green", ())),
        green_percent=int(data.get("green_percent", 0)),
        reason=data.get("reason", ""),
        rolled_back=bool(data.get("rolled_back", False)),
        trigger=data.get("trigger", "manual"),
        actor=data.get("actor", ""),
        owner=data.get("owner", ""),
        events=tuple(
            DeploymentEvent(
                _dt(e["at"]) or created,
                e["event"],
                e.get("detail", ""),
                int(e.get("green_percent", 0)),
            )
            for e in data.get("events", ())
        ),
    )


def group_json(state: GroupState) -> dict[str, Any]:
    """A group's live set as JSON."""
    return {
        "group": state.group,
        "image": state.image,
        "instances": [instance_json(i) for i in state.instances],
        "updated": _ts(state.updated),
    }


def group_of(data: dict[str, Any]) -> GroupState:
    """The inverse of :func:`group_json`."""
    return GroupState(
        data["group"],
        data.get("image", ""),
        tuple(instance_of(i) for i in data.get("instances", ())),
        _dt(data.get("updated")),
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, grp TEXT NOT NULL, created TEXT NOT NULL, record TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_group ON runs (grp, created);
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, document TEXT NOT NULL);
"""


class LocalDeploymentStore:
    """The runs, live sets and documents of this machine's deployments."""

    def __init__(self, path: Path) -> None:
        self._db = open_private(path, _SCHEMA, "the deployment store")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def save(self, run: DeploymentRun) -> None:
        """Create or replace ``run`` (a stop request survives the update)."""
        with self._db:
            self._db.execute(
                "INSERT INTO runs (id, grp, created, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                (run.id, run.group, run.created.isoformat(), json.dumps(run_json(run))),
            )

    def get(self, run_id: str) -> DeploymentRun | None:
        """The run ``run_id``."""
        row = self._db.execute("SELECT record FROM runs WHERE id = ?", (run_id,)).fetchone()
        return run_of(json.loads(row[0])) if row else None

    def runs(self, group: str | None = None) -> list[DeploymentRun]:
        """Every run (of ``group``), oldest first."""
        query = "SELECT record FROM runs"
        args: tuple[str, ...] = ()
        if group is not None:
            query, args = query + " WHERE grp = ?", (group,)
        rows = self._db.execute(query + " ORDER BY created, id", args).fetchall()
        return [run_of(json.loads(r[0])) for r in rows]

    def group(self, name: str) -> GroupState:
        """The live set of ``name``."""
        row = self._db.execute("SELECT state FROM groups WHERE name = ?", (name,)).fetchone()
        return group_of(json.loads(row[0])) if row else GroupState(name)

    def groups(self) -> list[GroupState]:
        """Every group's live set, by name."""
        rows = self._db.execute("SELECT state FROM groups ORDER BY name").fetchall()
        return [group_of(json.loads(r[0])) for r in rows]

    def set_group(self, state: GroupState) -> None:
        """Replace the live set of ``state.group``."""
        with self._db:
            self._db.execute(
                "INSERT INTO groups (name, state) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                (state.group, json.dumps(group_json(state))),
            )

    def request_stop(self, run_id: str) -> None:
        """Ask the owner of ``run_id`` to stop and roll back."""
        with self._db:
            self._db.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))

    def stop_requested(self, run_id: str) -> bool:
        """Whether someone asked ``run_id`` to stop."""
        row = self._db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def remember(self, name: str, document: dict[str, Any]) -> None:
        """Keep the ``Deployment`` document last run under ``name``."""
        with self._db:
            self._db.execute(
                "INSERT INTO documents (name, document) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET document = excluded.document",
                (name, json.dumps(document)),
            )

    def document(self, name: str) -> dict[str, Any] | None:
        """The ``Deployment`` document last run under ``name``."""
        row = self._db.execute("SELECT document FROM documents WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def documents(self) -> list[dict[str, Any]]:
        """Every remembered ``Deployment`` document, by name."""
        rows = self._db.execute("SELECT document FROM documents ORDER BY name").fetchall()
        return [json.loads(r[0]) for r in rows]
