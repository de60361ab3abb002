"""Component actions against a root filesystem ``R`` (the image being built).

File actions act strictly inside ``R``: a path is read as if ``R`` were ``/``; a path that
climbs out with ``..`` or whose resolution (symlinks followed) leaves ``R`` is refused.
``ExecuteBash`` writes the step's commands to ``R/tmp/patchwarden-step-*.sh`` (removed
afterwards) and runs ``chroot R /bin/bash -e /tmp/…``; ``ExecuteBinary`` runs
``chroot R PATH ARGS…``; with ``R = /`` neither uses chroot.  Processes run in their own
session with a clean environment and are killed (the whole process group) at the timeout.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from patchwarden.core.component import Attempt, Outcome, permissions_mode

ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C",
    "DEBIAN_FRONTEND": "noninteractive",
}
"""The environment of ExecuteBash/ExecuteBinary processes (nothing of the caller's)."""
MAX_OUTPUT = 1024 * 1024
"""stdout kept as an output (characters; the end is kept)."""
KILL_GRACE = 5.0


class ActionFailed(Exception):
    """An action could not do what its inputs ask (the message is the one-line error)."""


def confine(root: str, path: str) -> str:
    """``path`` (as seen from inside ``root``) as a host path inside ``root``.

    Refuses a path that climbs above ``/`` with ``..`` and one that leads outside ``root``
    through a symlink (any component, the last one included).  The last component itself is
    kept (so a symlink inside the root can be deleted or replaced as a link).
    """
    if not path:
        raise ActionFailed("empty path")
    if "\x00" in path:
        raise ActionFailed(f"{path!r}: NUL in a path")
    base = os.path.realpath(root)
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ActionFailed(f"{path}: leaves the root (through '..')")
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        return base
    parent = os.path.realpath(os.path.join(base, *parts[:-1]))
    candidate = os.path.join(parent, parts[-1])
    for probe in (parent, os.path.realpath(candidate)):
        if base != "/" and probe != base and not probe.startswith(base + os.sep):
            raise ActionFailed(f"{path}: leads outside the root {root} (through a symlink)")
    return candidate


def _id(root: str, table: str, value: object) -> int:
    """A user or group (name or number) as a number, from the root's own passwd/group."""
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        lines = Path(confine(root, f"/etc/{table}")).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split(":")
        if len(fields) > 2 and fields[0] == text and fields[2].isdigit():
            return int(fields[2])
    raise ActionFailed(f"no {'user' if table == 'passwd' else 'group'} {text!r} in the root")


def _content(entry: Mapping[str, object]) -> bytes:
    text = str(entry.get("content", "") or "")
    if entry.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise ActionFailed("content: not valid base64") from None
    return text.encode("utf-8")


class RootActions:
    """The :class:`~patchwarden.pipeline.component_run.ActionRunner` of a root directory."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise NotADirectoryError(root)
        self._actions: dict[str, Callable[[object, int | None], Outcome]] = {
            "ExecuteBash": self.execute_bash,
            "ExecuteBinary": self.execute_binary,
            "CreateFile": self._each(self._create_file),
            "AppendFile": self._each(self._append_file),
            "CopyFile": self._each(lambda e: self._copy_move(e, move=False)),
            "MoveFile": self._each(lambda e: self._copy_move(e, move=True)),
            "DeleteFile": self._each(self._delete_file),
            "CreateFolder": self._each(self._create_folder),
        }

    @property
    def chrooted(self) -> bool:
        """Whether processes run under ``chroot`` (every root but ``/``)."""
        return self.root != "/"

    def run(self, attempt: Attempt) -> Outcome:
        """Perform one attempt; failures become the outcome, never an exception."""
        began = time.monotonic()
        action = self._actions.get(attempt.action)
        try:
            if action is None:
                raise ActionFailed(f"action {attempt.action} is not supported here")
            outcome = action(attempt.inputs, attempt.timeout_seconds)
        except ActionFailed as exc:
            outcome = Outcome(exit_code=None, error=str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            outcome = Outcome(exit_code=None, error=f"{where}{exc.strerror or exc}")
        return Outcome(
            exit_code=outcome.exit_code,
            outputs=outcome.outputs,
            error=outcome.error,
            timed_out=outcome.timed_out,
            duration=time.monotonic() - began,
        )

    # -- execution ---------------------------------------------------------------------

    def execute_bash(self, inputs: object, timeout: int | None) -> Outcome:
        """``{commands: [...]}``: the commands as one ``bash -e`` script; outputs stdout."""
        commands = inputs.get("commands", []) if isinstance(inputs, Mapping) else []
        script = "\n".join(str(c) for c in commands) + "\n"
        tmp = confine(self.root, "/tmp")
        if not os.path.isdir(tmp):
            os.makedirs(tmp, exist_ok=True)
            os.chmod(tmp, 0o1777)
        if self.chrooted and not os.path.exists(confine(self.root, "/bin/bash")):
            raise ActionFailed(f"the root {self.root} has no /bin/bash to run ExecuteBash with")
        name = f"patchwarden-step-{uuid.uuid4().hex}.sh"
        host_path = os.path.join(tmp, name)
        fd = os.open(host_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(script)
            inside = f"/tmp/{name}" if self.chrooted else host_path
            return self._process(["/bin/bash", "-e", inside], timeout)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(host_path)

    def execute_binary(self, inputs: object, timeout: int | None) -> Outcome:
        """``{path, arguments: [...]}``: run a binary of the root; outputs stdout."""
        spec = inputs if isinstance(inputs, Mapping) else {}
        path = str(spec.get("path", ""))
        if not path.startswith("/"):
            raise ActionFailed(f"path: must be absolute, got {path!r}")
        if not os.access(confine(self.root, path), os.X_OK):
            raise ActionFailed(f"{path}: no executable file in the root")
        arguments = [str(a) for a in spec.get("arguments", []) or []]
        return self._process([path if self.chrooted else confine("/", path), *arguments], timeout)

    def _process(self, argv: Sequence[str], timeout: int | None) -> Outcome:
        full = ["chroot", self.root, *argv] if self.chrooted else list(argv)
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(ENV),
                cwd=self.root,
                start_new_session=True,
            )
        except OSError as exc:
            raise ActionFailed(f"{full[0]}: cannot start: {exc.strerror or exc}") from None
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            try:
                out, err = proc.communicate(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:  # a process left the group and holds the pipes
                proc.kill()
                out, err = b"", b""
        stdout = out.decode("utf-8", "replace")[-MAX_OUTPUT:]
        stderr = err.decode("utf-8", "replace")
        outputs = {"stdout": stdout.rstrip("\n")}
        if timed_out:
            return Outcome(
                exit_code=None,
                outputs=outputs,
                error=f"timed out after {timeout} s",
                timed_out=True,
            )
        code = proc.returncode
        if code == 0:
            return Outcome(exit_code=0, outputs=outputs)
        if code < 0:
            return Outcome(exit_code=None, outputs=outputs, error=f"killed by signal {-code}")
        lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
        return Outcome(exit_code=code, outputs=outputs, error=lines[-1][:500] if lines else "")

    # -- files -----------------------------------------------------------------------------

    @staticmethod
    def _each(
        func: Callable[[Mapping[str, object]], None],
    ) -> Callable[[object, int | None], Outcome]:
        def run(inputs: object, timeout: int | None) -> Outcome:
            entries = inputs if isinstance(inputs, list) else []
            for i, entry in enumerate(entries):
                if not isinstance(entry, Mapping):
                    raise ActionFailed(f"inputs[{i}]: must be a mapping")
                try:
                    func(entry)
                except ActionFailed as exc:
                    raise ActionFailed(f"inputs[{i}]: {exc}") from None
                except OSError as exc:
                    raise ActionFailed(f"inputs[{i}]: {exc.strerror or exc}") from None
            return Outcome(exit_code=0)

        return run

    def _path(self, entry: Mapping[str, object], key: str = "path") -> str:
        return confine(self.root, str(entry.get(key, "")))

    def _attributes(self, path: str, entry: Mapping[str, object]) -> None:
        if "permissions" in entry:
            try:
                os.chmod(path, permissions_mode(entry["permissions"]))
            except ValueError as exc:
                raise ActionFailed(f"permissions: {exc}") from None
        if "owner" in entry or "group" in entry:
            uid = _id(self.root, "passwd", entry["owner"]) if "owner" in entry else -1
            gid = _id(self.root, "group", entry["group"]) if "group" in entry else -1
            os.chown(path, uid, gid, follow_symlinks=False)

    def _create_file(self, entry: Mapping[str, object]) -> None:
        path = self._path(entry)
        overwrite = entry.get("overwrite", True)
        if os.path.isdir(path):
            raise ActionFailed(f"{entry['path']}: is a directory")
        if os.path.lexists(path) and not overwrite:
            raise ActionFailed(f"{entry['path']}: already exists (overwrite: false)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.islink(path):
            os.unlink(path)
        with open(path, "wb") as out:
            out.write(_content(entry))
        self._attributes(path, entry)

    def _append_file(self, entry: Mapping[str, object]) -> None:
        path = self._path(entry)
        if not os.path.isfile(path):
            raise ActionFailed(f"{entry['path']}: no such file")
        with open(path, "ab") as out:
            out.write(_content(entry))

    def _copy_move(self, entry: Mapping[str, object], *, move: bool) -> None:
        source = self._path(entry, "source")
        destination = self._path(entry, "destination")
        if not os.path.isfile(source):
            raise ActionFailed(f"{entry['source']}: no such file")
        if os.path.isdir(destination):
            destination = confine(self.root, f"{entry['destination']}/{os.path.basename(source)}")
        if os.path.lexists(destination) and not entry.get("overwrite", False):
            raise ActionFailed(f"{entry['destination']}: already exists (overwrite: false)")
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        if os.path.islink(destination):
            os.unlink(destination)
        if move:
            shutil.move(source, destination)
        else:
            shutil.copy2(source, destination)

    def _delete_file(self, entry: Mapping[str, object]) -> None:
        path = self._path(entry)
        if os.path.isdir(path) and not os.path.islink(path):
            raise ActionFailed(f"{entry['path']}: is a directory (DeleteFile deletes files)")
        if not os.path.lexists(path):
            raise ActionFailed(f"{entry['path']}: no such file")
        os.unlink(path)

    def _create_folder(self, entry: Mapping[str, object]) -> None:
        path = self._path(entry)
        if os.path.lexists(path) and not os.path.isdir(path):
            raise ActionFailed(f"{entry['path']}: exists and is not a directory")
        existed = os.path.isdir(path)
        os.makedirs(path, exist_ok=True)
        if not existed or entry.get("overwrite", False):
            self._attributes(path, entry)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
