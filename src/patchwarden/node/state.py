"""The node's state directory: its configuration (``node.json``, 0600), the install journal,
the spool of results not yet sent, and the invocations already run.

Every file is written atomically (a temporary file in the same directory, fsync, then
``os.replace``), readable by its owner only.
"""

import contextlib
import json
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from patchwarden import wire

DEFAULT_STATE_DIR = "/var/lib/patchwarden-node"
CONFIG = "node.json"
JOURNAL = "journal.json"
SPOOL = "spool.json"
DONE = "done.json"
DONE_KEPT = 500
"""Invocation ids remembered as run (a redelivered one is not run again)."""


class NodeProblem(Exception):
    """A one-line error with the exit code it means (2: refused input, 3: environment)."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def write_json(path: str, value: Any) -> None:
    """Write ``value`` to ``path`` atomically, mode 0600."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".{}.{}.tmp".format(os.path.basename(path), os.getpid()))
    old_umask = os.umask(0o077)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    finally:
        os.umask(old_umask)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(value, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: str, default: Any = None) -> Any:
    """The JSON value in ``path`` (``default`` when it is absent or unreadable)."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def remove(path: str) -> None:
    """Remove ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def make_state_dir(state_dir: str) -> None:
    """Create the state directory, owner-only."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    os.chmod(state_dir, 0o700)


class NodeConfig(NamedTuple):
    """What registration leaves in ``node.json``."""

    state_dir: str
    server: str
    node_id: str
    credential: str
    root: str = "/"
    ca_file: str = ""

    @classmethod
    def load(cls, state_dir: str) -> "NodeConfig":
        """Read a registered node's configuration (exit 3 when there is none)."""
        path = os.path.join(state_dir, CONFIG)
        try:
            with open(path) as fh:
                data = json.load(fh)
            return cls(
                state_dir,
                str(data["server"]),
                str(data["node_id"]),
                str(data["credential"]),
                str(data.get("root") or "/"),
                str(data.get("ca_file") or ""),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NodeProblem(
                "{}: no registered node here (run the register command): {}".format(
                    path, type(exc).__name__ if isinstance(exc, KeyError) else exc
                )
            ) from None

    def save(self) -> None:
        """Write ``node.json`` (0600, atomically)."""
        make_state_dir(self.state_dir)
        write_json(
            os.path.join(self.state_dir, CONFIG),
            {
                "server": self.server,
                "node_id": self.node_id,
                "credential": self.credential,
                "root": self.root,
                "ca_file": self.ca_file,
            },
        )

    def path(self, name: str) -> str:
        """A file of the state directory."""
        return os.path.join(self.state_dir, name)


class Journal:
    """``journal.json``: the Install under way (written before apt is touched)."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, JOURNAL)

    def start(self, invocation_id: str, command_id: str, operation: str) -> None:
        """Record that apt is about to install for this invocation."""
        write_json(
            self.path,
            {
                "invocation_id": invocation_id,
                "command_id": command_id,
                "operation": operation,
                "phase": "installing",
            },
        )

    def interrupted(self) -> Optional[Dict[str, Any]]:
        """The entry of an install the node did not finish (``None``: none)."""
        entry = read_json(self.path)
        if isinstance(entry, dict) and isinstance(entry.get("invocation_id"), str):
            return entry
        return None

    def clear(self) -> None:
        """The install's result is reported (or spooled)."""
        remove(self.path)


class Spool:
    """``spool.json``: results the server did not take yet (it was unavailable)."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, SPOOL)

    def entries(self) -> List[Tuple[str, wire.InvocationResult]]:
        """(invocation id, result), oldest first; malformed entries are dropped."""
        raw = read_json(self.path, [])
        found = []
        for item in raw if isinstance(raw, list) else []:
            try:
                found.append(
                    (
                        str(item["invocation_id"]),
                        wire.InvocationResult.from_json(item["result"]),
                    )
                )
            except (KeyError, TypeError, wire.WireError):
                continue
        return found

    def holds(self, invocation_id: str) -> bool:
        """Whether a result of this invocation waits here."""
        return any(i == invocation_id for i, _ in self.entries())

    def add(self, invocation_id: str, result: wire.InvocationResult) -> None:
        """Keep a result to send later."""
        entries = [(i, r) for i, r in self.entries() if i != invocation_id]
        entries.append((invocation_id, result))
        self._write(entries)

    def replace(self, entries: List[Tuple[str, wire.InvocationResult]]) -> None:
        """Keep exactly these (what is still unsent)."""
        if entries:
            self._write(entries)
        else:
            remove(self.path)

    def _write(self, entries: List[Tuple[str, wire.InvocationResult]]) -> None:
        write_json(self.path, [{"invocation_id": i, "result": r.to_json()} for i, r in entries])


class Done:
    """``done.json``: the invocations this node ran (the newest :data:`DONE_KEPT`)."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, DONE)

    def _ids(self) -> List[str]:
        raw = read_json(self.path, [])
        return [str(i) for i in raw] if isinstance(raw, list) else []

    def seen(self, invocation_id: str) -> bool:
        """Whether this invocation ran here already."""
        return invocation_id in self._ids()

    def add(self, invocation_id: str) -> None:
        """Remember one invocation."""
        ids = [i for i in self._ids() if i != invocation_id] + [invocation_id]
        write_json(self.path, ids[-DONE_KEPT:])
