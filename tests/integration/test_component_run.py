"""``patchwarden component run`` on real sandbox roots: apt/dpkg roots made from real .debs
(:mod:`sandbox`), with the host's bash and coreutils copied in (:mod:`shell_root`) so that
``chroot ROOT /bin/bash`` works.  The host's dpkg database is never touched (conftest)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sandbox import SECURITY_UPDATES, STANDARD_STATE, Cli, NodeFactory, SandboxNode
from shell_root import add_shell

pytestmark = pytest.mark.integration


@pytest.fixture
def node(make_node: NodeFactory) -> SandboxNode:
    """A standard sandbox node that can also run bash under chroot."""
    node = make_node(name="image")
    add_shell(node.root)
    return node


def write(tmp_path: Path, text: str, name: str = "component.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def steps(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['phase']}.{s['step']}": s for s in result["steps"]}


def run_json(pw: Cli, file: Path, root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = pw("component", "run", file, "--root", root, "--format", "json", *extra)
    assert result.returncode in (0, 1), str(result)
    return result.returncode, result.json()


def test_create_file_then_bash_chaining_and_a_loop(
    pw: Cli, node: SandboxNode, tmp_path: Path
) -> None:
    file = write(
        tmp_path,
        """\
        apiVersion: patchwarden/v1
        kind: Component
        metadata: {name: greeter}
        spec:
          name: greeter
          semanticVersion: 1.0.0
          platform: Linux
          data: |
            schemaVersion: 1.0
            parameters:
              - greeting: {type: string, default: hello}
            phases:
              - name: build
                steps:
                  - name: conf
                    action: CreateFile
                    inputs:
                      - path: /etc/greeter.conf
                        content: "{{ greeting }} world"
                        permissions: "0600"
                  - name: read
                    action: ExecuteBash
                    inputs: {commands: ["cat /etc/greeter.conf"]}
                  - name: chained
                    action: ExecuteBash
                    inputs:
                      commands: ["echo 'got: {{ build.read.outputs.stdout }}' > /tmp/chained"]
                  - name: files
                    action: ExecuteBash
                    loop: {name: f, forEach: [a, b, c]}
                    inputs: {commands: ["touch /tmp/loop-{{ f.index }}-{{ loop.value }}"]}
                  - name: counted
                    action: ExecuteBash
                    loop: {for: {start: 1, end: 5, updateBy: 2}}
                    inputs: {commands: ["echo {{ loop.value }} >> /tmp/counted"]}
              - name: validate
                steps:
                  - name: check
                    action: ExecuteBash
                    inputs: {commands: ["test -f /tmp/chained", "cat /tmp/chained"]}
        """,
    )
    code, result = run_json(pw, file, node.root, "--param", "greeting=hi")
    assert code == 0 and result["status"] == "Success", result
    by = steps(result)
    assert by["build.read"]["outputs"] == {"stdout": "hi world"}
    assert by["validate.check"]["outputs"] == {"stdout": "got: hi world"}
    assert by["build.files"]["iterations"] == 3 and by["build.files"]["attempts"] == 3
    assert (node.root / "etc/greeter.conf").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (node.root / "tmp").glob("loop-*")) == [
        "loop-0-a",
        "loop-1-b",
        "loop-2-c",
    ]
    assert (node.root / "tmp/counted").read_text() == "1\n3\n5\n"
    assert not list((node.root / "tmp").glob("patchwarden-step-*"))  # scripts removed
    table = pw("component", "run", file, "--root", node.root, "--phase", "validate")
    assert table.returncode == 0, str(table)
    assert "validate  check  ExecuteBash  Success  1" in table.stdout
    assert "component greeter on" in table.stdout and ": Success (1 succeeded)" in table.stdout


def test_on_failure_continue_ignore_abort(pw: Cli, node: SandboxNode, tmp_path: Path) -> None:
    file = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: cont
                action: ExecuteBash
                onFailure: Continue
                inputs: {commands: ["echo bad >&2; exit 3"]}
              - {name: ign, action: ExecuteBash, onFailure: Ignore, inputs: {commands: ["exit 4"]}}
              - {name: fine, action: ExecuteBash, inputs: {commands: ["touch /tmp/fine"]}}
              - {name: stop, action: ExecuteBash, inputs: {commands: ["exit 5"]}}
              - {name: never, action: ExecuteBash, inputs: {commands: ["touch /tmp/never"]}}
          - name: test
            steps:
              - {name: later, action: ExecuteBash, inputs: {commands: ["touch /tmp/later"]}}
        """,
    )
    code, result = run_json(pw, file, node.root)
    assert code == 1 and result["status"] == "Failed"
    assert [(s["step"], s["status"], s["error"]) for s in result["steps"]] == [
        ("cont", "Failed", "exit code 3: bad"),
        ("ign", "Ignored", "exit code 4"),
        ("fine", "Success", ""),
        ("stop", "Failed", "exit code 5"),
        ("never", "Skipped", ""),
        ("later", "Skipped", ""),
    ]
    assert (node.root / "tmp/fine").exists()
    assert not (node.root / "tmp/never").exists() and not (node.root / "tmp/later").exists()
    only_continue = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: cont
                action: ExecuteBash
                onFailure: Continue
                inputs: {commands: ["exit 3"]}
              - {name: after, action: ExecuteBash, inputs: {commands: ["true"]}}
        """,
        "continue.yaml",
    )
    code, result = run_json(pw, only_continue, node.root)
    assert code == 1 and [s["status"] for s in result["steps"]] == ["Failed", "Success"]


def test_max_attempts_194_and_timeout(pw: Cli, node: SandboxNode, tmp_path: Path) -> None:
    file = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: second-time-lucky
                action: ExecuteBash
                maxAttempts: 3
                inputs:
                  commands:
                    - if [ -f /tmp/tried ]; then echo ok; exit 0; fi
                    - touch /tmp/tried
                    - exit 1
              - name: reboot-twice
                action: ExecuteBash
                inputs:
                  commands:
                    - n=$(cat /tmp/boots 2>/dev/null || echo 0)
                    - n=$((n + 1)); echo $n > /tmp/boots
                    - if [ $n -lt 3 ]; then exit 194; fi
                    - echo booted $n times
              - name: slow
                action: ExecuteBash
                timeoutSeconds: 1
                onFailure: Continue
                inputs: {commands: ["sleep 30"]}
        """,
    )
    code, result = run_json(pw, file, node.root)
    by = steps(result)
    assert by["build.second-time-lucky"]["status"] == "Success"
    assert by["build.second-time-lucky"]["attempts"] == 2
    assert by["build.reboot-twice"]["status"] == "Success"
    assert (by["build.reboot-twice"]["attempts"], by["build.reboot-twice"]["reruns"]) == (3, 2)
    assert by["build.reboot-twice"]["outputs"] == {"stdout": "booted 3 times"}
    assert by["build.slow"]["status"] == "Failed"
    assert by["build.slow"]["error"] == "timed out after 1 s"
    assert by["build.slow"]["durationSeconds"] < 10
    assert code == 1


def test_path_escapes_are_refused(pw: Cli, node: SandboxNode, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (node.root / "escape").symlink_to(outside)
    file = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: dots
                action: CreateFile
                onFailure: Continue
                inputs: [{path: /../../pwned, content: x}]
              - name: link
                action: CreateFile
                onFailure: Continue
                inputs: [{path: /escape/pwned, content: x}]
              - name: copy
                action: CopyFile
                onFailure: Continue
                inputs: [{source: /etc/os-release, destination: /escape/os-release}]
        """,
    )
    code, result = run_json(pw, file, node.root)
    assert code == 1
    errors = [s["error"] for s in result["steps"]]
    assert "leaves the root" in errors[0]
    assert all("outside the root" in e for e in errors[1:]), errors
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "pwned").exists() and not Path("/pwned").exists()


def test_update_os_installs_updates_into_the_root(
    pw: Cli, make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node(name="update-os")
    file = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: security
                action: UpdateOS
                inputs: {include: [libfoo1, foo-utils, needs-evil]}
        """,
    )
    code, result = run_json(pw, file, node.root)
    assert code == 0, json.dumps(result, indent=2)
    versions = node.dpkg_versions()
    for name, version in SECURITY_UPDATES.items():
        assert versions[name] == version
    assert versions["bar"] == STANDARD_STATE["bar"]  # not included: unchanged
    assert "libfoo1:all 1.0-1+deb12u1" in result["steps"][0]["outputs"]["stdout"]

    everything = make_node(name="update-all")
    exclude = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - {name: all-but-bar, action: UpdateOS, inputs: {exclude: [bar]}}
        """,
        "exclude.yaml",
    )
    code, result = run_json(pw, exclude, everything.root)
    assert code == 0, json.dumps(result, indent=2)
    versions = everything.dpkg_versions()
    assert versions["bar"] == STANDARD_STATE["bar"]
    assert versions["libfoo1"] == SECURITY_UPDATES["libfoo1"]
    assert versions["baz"] == "1:0.9-1"


def test_update_os_honours_a_patch_baseline(
    pw: Cli, make_node: NodeFactory, tmp_path: Path
) -> None:
    """As an image pipeline's patchBaseline: the predefined Debian baseline approves the
    security updates only; ``exclude`` blocks one of them; ``include`` cannot narrow it."""
    node = make_node(name="update-baseline")
    baseline = tmp_path / "debian.yaml"
    made = pw("baseline", "default", "DEBIAN")
    assert made.returncode == 0, str(made)
    baseline.write_text(made.stdout)
    file = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - {name: security-only, action: UpdateOS, inputs: {exclude: [needs-evil]}}
        """,
    )
    code, result = run_json(pw, file, node.root, "--baseline", baseline)
    assert code == 0, json.dumps(result, indent=2)
    versions = node.dpkg_versions()
    assert versions["libfoo1"] == SECURITY_UPDATES["libfoo1"]
    assert versions["bar"] == STANDARD_STATE["bar"]  # not a security update
    assert versions["needs-evil"] == STANDARD_STATE["needs-evil"]  # excluded
    narrowing = write(
        tmp_path,
        """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - {name: narrow, action: UpdateOS, inputs: {include: [libfoo1]}}
        """,
        "narrow.yaml",
    )
    code, result = run_json(pw, narrowing, node.root, "--baseline", baseline)
    assert code == 1
    assert result["steps"][0]["error"].startswith(
        "UpdateOS: include cannot be combined with the patch baseline"
    )
