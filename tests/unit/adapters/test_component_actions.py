"""Component actions on a root directory: file operations confined to the root (no chroot
needed), and ExecuteBash on ``/`` (no chroot) for the process handling."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from patchwarden.adapters.image.actions import ActionFailed, RootActions, confine
from patchwarden.core.component import Attempt, Outcome


def attempt(action: str, inputs: Any, timeout: int | None = 30) -> Attempt:
    return Attempt("build", "s", action, inputs, timeout, 1)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/:/bin/false\n")
    (r / "etc/group").write_text("root:x:0:\napp:x:1234:\n")
    return r


def test_confine_reads_paths_from_inside_the_root(root: Path) -> None:
    real = os.path.realpath(root)
    assert confine(str(root), "/etc/passwd") == f"{real}/etc/passwd"
    assert confine(str(root), "etc/../etc/passwd") == f"{real}/etc/passwd"
    assert confine(str(root), "/") == real


@pytest.mark.parametrize("path", ["/../etc/passwd", "../x", "/etc/../../x", "/a/../../b"])
def test_confine_refuses_dot_dot_escapes(root: Path, path: str) -> None:
    with pytest.raises(ActionFailed, match="leaves the root"):
        confine(str(root), path)


def test_confine_refuses_symlinks_leading_outside(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link-dir").symlink_to(outside)
    (root / "link-file").symlink_to(outside / "f")
    (root / "abs").symlink_to("/etc")  # an absolute link is read on the host: outside
    (root / "inside").symlink_to("etc")
    for path in ("/link-dir/x", "/link-file", "/abs/passwd"):
        with pytest.raises(ActionFailed, match="outside the root"):
            confine(str(root), path)
    assert confine(str(root), "/inside/passwd").endswith("/etc/passwd")


def test_file_actions(root: Path) -> None:
    actions = RootActions(str(root))
    ok = actions.run(
        attempt(
            "CreateFile",
            [{"path": "/opt/app/conf", "content": "a\n", "permissions": "0640", "owner": "app"}],
        )
    )
    assert ok.ok, ok
    conf = root / "opt/app/conf"
    assert conf.read_text() == "a\n"
    assert conf.stat().st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert conf.stat().st_uid == 1234
    assert actions.run(attempt("AppendFile", [{"path": "/opt/app/conf", "content": "b\n"}])).ok
    assert conf.read_text() == "a\nb\n"
    again = actions.run(attempt("CreateFile", [{"path": "/opt/app/conf", "overwrite": False}]))
    assert again.exit_code is None and "already exists" in again.error
    copy = [{"source": "/opt/app/conf", "destination": "/srv/conf"}]
    assert actions.run(attempt("CopyFile", copy)).ok
    assert not actions.run(attempt("CopyFile", copy)).ok  # overwrite defaults to false
    assert actions.run(attempt("CopyFile", [{**copy[0], "overwrite": True}])).ok
    move = [{"source": "/srv/conf", "destination": "/srv/moved"}]
    assert actions.run(attempt("MoveFile", move)).ok
    assert not (root / "srv/conf").exists() and (root / "srv/moved").exists()
    assert actions.run(attempt("DeleteFile", [{"path": "/srv/moved"}])).ok
    missing = actions.run(attempt("DeleteFile", [{"path": "/srv/moved"}]))
    assert missing.error == "inputs[0]: /srv/moved: no such file"
    folder = [{"path": "/var/lib/app", "permissions": "0700"}]
    assert actions.run(attempt("CreateFolder", folder)).ok
    assert (root / "var/lib/app").stat().st_mode & 0o777 == 0o700
    assert actions.run(attempt("CreateFolder", folder)).ok  # an existing folder is fine
    unknown = actions.run(attempt("CreateFile", [{"path": "/x", "owner": "nobody-here"}]))
    assert "no user 'nobody-here' in the root" in unknown.error


def test_file_actions_refuse_escapes(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "out").symlink_to(outside)
    actions = RootActions(str(root))
    for action, inputs in [
        ("CreateFile", [{"path": "/out/pwned", "content": "x"}]),
        ("CreateFile", [{"path": "/../pwned", "content": "x"}]),
        ("CopyFile", [{"source": "/etc/passwd", "destination": "/out/pwned"}]),
        ("CreateFolder", [{"path": "/out/dir"}]),
    ]:
        outcome = actions.run(attempt(action, inputs))
        assert not outcome.ok and "root" in outcome.error, (action, outcome)
    assert list(outside.iterdir()) == []
    assert not (root.parent / "pwned").exists()


def test_execute_bash_on_slash_runs_without_chroot() -> None:
    actions = RootActions("/")
    assert not actions.chrooted
    out = actions.run(attempt("ExecuteBash", {"commands": ["echo one", "echo two"]}))
    assert out == Outcome(0, {"stdout": "one\ntwo"}, duration=out.duration)
    bad = actions.run(attempt("ExecuteBash", {"commands": ["echo why >&2", "false", "echo no"]}))
    assert (bad.exit_code, bad.error, bad.outputs["stdout"]) == (1, "why", "")
    rerun = actions.run(attempt("ExecuteBash", {"commands": ["exit 194"]}))
    assert rerun.exit_code == 194


def test_execute_bash_timeout_kills_the_whole_group() -> None:
    actions = RootActions("/")
    out = actions.run(attempt("ExecuteBash", {"commands": ["sleep 30 & sleep 30"]}, timeout=1))
    assert out.timed_out and out.error == "timed out after 1 s"
    assert out.duration < 10


def test_execute_binary_needs_an_executable(root: Path) -> None:
    actions = RootActions(str(root))
    out = actions.run(attempt("ExecuteBinary", {"path": "/bin/nothing"}))
    assert out.error == "/bin/nothing: no executable file in the root"
    relative = actions.run(attempt("ExecuteBinary", {"path": "bin/x"}))
    assert "must be absolute" in relative.error
