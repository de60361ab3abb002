"""Image Builder components: the document model, templating and the step state machine,
on plain values (no process, no root)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from patchwarden.core.baseline import RejectedPatchesAction
from patchwarden.core.component import (
    MAX_RERUNS,
    Decision,
    OnFailure,
    Outcome,
    Run,
    Scope,
    Step,
    StepStatus,
    Unresolved,
    decide,
    handle,
    next_attempt,
    parse_component,
    render,
    start,
    substitute,
)
from patchwarden.core.component.updateos import update_os_baseline
from patchwarden.documents import parse_documents
from patchwarden.documents.component import ComponentDocument, check_semantic_version
from patchwarden.errors import InputError


def bash(name: str, *commands: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "action": "ExecuteBash", "inputs": {"commands": list(commands)}, **extra}


def doc(*steps: dict[str, Any], phase: str = "build", **top: Any) -> dict[str, Any]:
    return {"schemaVersion": 1.0, "phases": [{"name": phase, "steps": list(steps)}], **top}


def problem(raw: object) -> str:
    with pytest.raises(InputError) as exc:
        parse_component(raw)
    return str(exc.value)


# -- the model ---------------------------------------------------------------------------------


def test_defaults_of_a_step() -> None:
    component = parse_component(doc(bash("a", "true")))
    step = component.phases[0].steps[0]
    assert (step.timeout_seconds, step.on_failure, step.max_attempts, step.loop) == (
        7200,
        OnFailure.ABORT,
        1,
        None,
    )


def test_timeout_minus_one_is_unlimited_and_zero_is_refused() -> None:
    component = parse_component(doc(bash("a", "true", timeoutSeconds=-1)))
    assert component.phases[0].steps[0].timeout_seconds is None
    assert "phases[0].steps[0].timeoutSeconds" in problem(doc(bash("a", "x", timeoutSeconds=0)))


def test_unknown_action_names_its_path() -> None:
    raw = doc(bash("a", "true"), {"name": "b", "action": "Frobnicate"})
    assert problem(raw).startswith("phases[0].steps[1].action: unknown action 'Frobnicate'")


def test_duplicate_step_names_in_a_phase() -> None:
    assert "step 'a' is given twice" in problem(doc(bash("a", "x"), bash("a", "y")))


def test_same_step_name_in_two_phases_is_fine() -> None:
    raw = doc(bash("a", "x"))
    raw["phases"].append({"name": "test", "steps": [bash("a", "y")]})
    assert [p.name for p in parse_component(raw).phases] == ["build", "test"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"schemaVersion": 2.0}, "schemaVersion: must be 1.0"),
        ({"phases": []}, "phases: must not be empty"),
        ({"phases": [{"name": "deploy", "steps": [bash("a", "x")]}]}, "phases[0].name: must be"),
        ({"extra": 1}, "extra: unknown field"),
    ],
)
def test_document_problems(change: dict[str, Any], expected: str) -> None:
    raw = {**doc(bash("a", "x")), **change}
    assert problem(raw).startswith(expected)


def test_a_phase_given_twice() -> None:
    raw = doc(bash("a", "x"))
    raw["phases"].append(copy.deepcopy(raw["phases"][0]))
    assert "phase 'build' is given twice" in problem(raw)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (bash("a", "x", onFailure="Retry"), "phases[0].steps[0].onFailure: must be Abort"),
        (bash("a", "x", maxAttempts=0), "phases[0].steps[0].maxAttempts: must be 1 to"),
        ({"name": "a", "action": "ExecuteBash", "inputs": {}}, "inputs.commands: required"),
        ({"name": "a", "action": "CreateFile", "inputs": [{"content": "x"}]}, "inputs[0].path"),
        (
            {"name": "a", "action": "CreateFile", "inputs": [{"path": "/x", "permissions": "999"}]},
            "inputs[0].permissions: must be octal",
        ),
        (
            {"name": "a", "action": "UpdateOS", "inputs": {"include": "x"}},
            "include: must be a list",
        ),
        ({"name": "a.b", "action": "UpdateOS"}, "phases[0].steps[0].name"),
    ],
)
def test_step_problems(step: dict[str, Any], expected: str) -> None:
    assert expected in problem(doc(step))


@pytest.mark.parametrize(
    ("loop", "expected"),
    [
        ({"for": {"start": 1, "end": 3}}, "loop.for.updateBy: required"),
        ({"for": {"start": 1, "end": 3, "updateBy": 0}}, "updateBy: must not be 0"),
        ({"for": {"start": 3, "end": 1, "updateBy": 1}}, "never goes from 3 to 1"),
        ({"for": {"start": 0, "end": 5000, "updateBy": 1}}, "5001 iterations"),
        ({"forEach": []}, "loop.forEach: must not be empty"),
        ({"forEach": {"delimiter": ","}}, "loop.forEach.list: required"),
        ({"for": {"start": 0, "end": 1, "updateBy": 1}, "forEach": ["a"]}, "exactly one of"),
        ({"name": "loop", "forEach": ["a"]}, "loop.name"),
    ],
)
def test_bad_loops(loop: dict[str, Any], expected: str) -> None:
    assert expected in problem(doc(bash("a", "x", loop=loop)))


def test_references_are_checked_at_parse_time() -> None:
    params = {"parameters": [{"who": {"type": "string", "default": "x"}}]}
    assert "{{ nobody }} names no declared parameter" in problem(
        doc(bash("a", "echo {{ nobody }}"), **params)
    )
    assert "not inside a loop" in problem(doc(bash("a", "echo {{ loop.index }}")))
    assert "names no step that runs before" in problem(
        doc(bash("a", "echo {{ build.b.outputs.stdout }}"), bash("b", "x"))
    )
    assert "a CreateFile step has no output 'stdout'" in problem(
        doc(
            {"name": "f", "action": "CreateFile", "inputs": [{"path": "/x"}]},
            bash("b", "echo {{ build.f.outputs.stdout }}"),
        )
    )
    assert "unknown reference" in problem(doc(bash("a", "echo {{ a.b.c }}")))
    ok = doc(bash("a", "echo {{who}}"), bash("b", "echo {{ build.a.outputs.stdout }}"), **params)
    assert len(parse_component(ok).phases[0].steps) == 2


def test_parameters() -> None:
    raw = doc(
        bash("a", "echo {{ a }} {{ b }}"),
        parameters=[
            {"a": {"type": "string", "default": 5, "description": "five"}},
            {"b": {"type": "string"}},
        ],
    )
    component = parse_component(raw)
    assert component.resolve_parameters({"b": "x"}) == {"a": "5", "b": "x"}
    with pytest.raises(InputError, match="parameter 'b': has no default"):
        component.resolve_parameters({})
    with pytest.raises(InputError, match="parameter 'c': not declared"):
        component.resolve_parameters({"b": "x", "c": "y"})
    bad = {**raw, "parameters": [{"a": {"type": "integer"}}]}
    assert "parameters[0].a.type: must be string" in problem(bad)


# -- the document kind -------------------------------------------------------------------------

ENVELOPE = """
apiVersion: patchwarden/v1
kind: Component
metadata: {name: hello}
spec:
  name: hello
  semanticVersion: 1.2.3
  platform: Linux
  description: says hello
  data: |
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - {name: hello, action: ExecuteBash, inputs: {commands: [echo hello]}}
"""


def test_component_kind_loads_with_yaml_text_or_a_mapping() -> None:
    (document,) = parse_documents(ENVELOPE, "c.yaml")
    assert isinstance(document, ComponentDocument)
    assert document.component.phases[0].steps[0].name == "hello"
    inline = ENVELOPE.split("  data: |")[0] + (
        "  data:\n    schemaVersion: 1.0\n    phases: [{name: test, steps: "
        '[{name: t, action: ExecuteBash, inputs: {commands: ["true"]}}]}]\n'
    )
    (document,) = parse_documents(inline, "c.yaml")
    assert isinstance(document, ComponentDocument)
    assert document.component.phases[0].name == "test"
    assert document.to_json()["kind"] == "Component"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("semanticVersion: 1.2.3", "semanticVersion: 1.2", "spec.semanticVersion: must be"),
        ("semanticVersion: 1.2.3", "semanticVersion: 1.2.1073741824", "at most 1073741823"),
        ("platform: Linux", "platform: Windows", "spec.platform"),
        ("action: ExecuteBash", "action: Nope", "spec.data.phases[0].steps[0].action: unknown"),
        ("schemaVersion: 1.0", "schemaVersion: [", "spec.data: invalid YAML"),
    ],
)
def test_component_kind_problems(old: str, new: str, expected: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_documents(ENVELOPE.replace(old, new), "c.yaml")
    assert expected in str(exc.value)
    assert str(exc.value).startswith("c.yaml: ")


def test_semantic_versions() -> None:
    assert check_semantic_version("0.0.0") == (0, 0, 0)
    assert check_semantic_version("1073741823.1.2") == (2**30 - 1, 1, 2)
    for bad in ("01.0.0", "1.0.0/1", "x.1.0", "1.0"):
        with pytest.raises(ValueError):
            check_semantic_version(bad)


# -- templating --------------------------------------------------------------------------------


def test_render_tolerates_whitespace_and_fails_on_missing_references() -> None:
    scope = Scope(
        parameters={"name": "web"},
        outputs={("build", "s"): {"stdout": "42"}},
        loop_name="files",
        loop_index=2,
        loop_value="/etc/x",
    )
    text = "{{name}} {{  name }} {{loop.index}} {{ files.value }} {{ build.s.outputs.stdout }}"
    assert render(text, scope) == "web web 2 /etc/x 42"
    for missing in ("{{ other }}", "{{ build.t.outputs.stdout }}", "{{ build.s.outputs.x }}"):
        with pytest.raises(Unresolved):
            render(missing, scope)
    with pytest.raises(Unresolved, match="only be used in inputs"):
        render("{{ build.s.outputs.stdout }}", Scope(parameters={}))
    with pytest.raises(Unresolved, match="not inside a loop"):
        render("{{ loop.value }}", Scope(parameters={}))


def test_substitute_walks_lists_and_mappings() -> None:
    scope = Scope(parameters={"p": "v"})
    value = [{"path": "/{{ p }}", "overwrite": True}, "{{p}}"]
    assert substitute(value, scope) == [{"path": "/v", "overwrite": True}, "v"]


# -- the state machine -------------------------------------------------------------------------


def step(**kw: Any) -> Step:
    return Step(name="s", action="ExecuteBash", inputs={"commands": ["x"]}, **kw)


def test_decide() -> None:
    ok, bad, rerun = Outcome(0), Outcome(1), Outcome(194)
    assert decide(step(), 1, 0, ok) is Decision.SUCCEEDED
    assert decide(step(), 1, 0, bad) is Decision.ABORT
    assert decide(step(max_attempts=3), 2, 0, bad) is Decision.RETRY
    assert decide(step(max_attempts=3), 3, 0, bad) is Decision.ABORT
    assert decide(step(on_failure=OnFailure.CONTINUE), 1, 0, bad) is Decision.CONTINUE
    assert decide(step(on_failure=OnFailure.IGNORE), 1, 0, bad) is Decision.IGNORE
    assert decide(step(), 1, 0, rerun) is Decision.RERUN
    assert decide(step(), 1, MAX_RERUNS, rerun) is Decision.ABORT
    assert decide(step(), 1, 0, Outcome(0, timed_out=True)) is Decision.ABORT
    assert decide(step(), 1, 0, Outcome(None, error="boom")) is Decision.ABORT


def drive(
    raw: dict[str, Any], outcomes: dict[str, list[Outcome]], **kw: Any
) -> tuple[Run, list[tuple[str, object]]]:
    """Run ``raw`` answering each step's attempts from ``outcomes`` (default: exit 0)."""
    run = start(parse_component(raw), **kw)
    calls: list[tuple[str, object]] = []
    while True:
        run, attempt = next_attempt(run)
        if attempt is None:
            return run, calls
        calls.append((attempt.step, attempt.inputs))
        queue = outcomes.get(attempt.step, [])
        run = handle(run, queue.pop(0) if queue else Outcome(0, {"stdout": attempt.step}))


def statuses(run: Run) -> list[tuple[str, StepStatus]]:
    return [(s.step, s.status) for s in run.log]


def test_abort_skips_the_rest_and_fails_the_run() -> None:
    raw = doc(bash("a", "x"), bash("b", "x"), bash("c", "x"))
    raw["phases"].append({"name": "test", "steps": [bash("t", "x")]})
    run, _run_calls = drive(raw, {"b": [Outcome(2, error="nope")]})
    assert statuses(run) == [
        ("a", StepStatus.SUCCESS),
        ("b", StepStatus.FAILED),
        ("c", StepStatus.SKIPPED),
        ("t", StepStatus.SKIPPED),
    ]
    assert run.done and not run.succeeded
    assert run.log[1].error == "exit code 2: nope"


def test_continue_goes_on_but_fails_the_run_and_ignore_does_not() -> None:
    raw = doc(
        bash("a", "x", onFailure="Continue"), bash("b", "x", onFailure="Ignore"), bash("c", "x")
    )
    run, _run_calls = drive(raw, {"a": [Outcome(1)], "b": [Outcome(1)]})
    assert statuses(run) == [
        ("a", StepStatus.FAILED),
        ("b", StepStatus.IGNORED),
        ("c", StepStatus.SUCCESS),
    ]
    assert not run.succeeded
    ignore_only, _ignore_only_calls = drive(
        doc(bash("b", "x", onFailure="Ignore")), {"b": [Outcome(1)]}
    )
    assert ignore_only.succeeded


def test_max_attempts_retries_until_success() -> None:
    run, _run_calls = drive(
        doc(bash("a", "x", maxAttempts=3)), {"a": [Outcome(1), Outcome(0, {"stdout": "y"})]}
    )
    assert run.succeeded
    assert (run.log[0].attempts, run.log[0].outputs) == (2, {"stdout": "y"})
    failed, _failed_calls = drive(
        doc(bash("a", "x", maxAttempts=2)), {"a": [Outcome(1), Outcome(1)]}
    )
    assert failed.log[0].error == "exit code 1 (after 2 attempts)"


def test_194_reruns_the_same_step_without_using_an_attempt() -> None:
    run, _run_calls = drive(doc(bash("a", "x")), {"a": [Outcome(194), Outcome(194), Outcome(0)]})
    assert run.succeeded
    assert (run.log[0].attempts, run.log[0].reruns) == (3, 2)
    endless, _endless_calls = drive(doc(bash("a", "x")), {"a": [Outcome(194)] * (MAX_RERUNS + 1)})
    assert not endless.succeeded
    assert "re-run (exit code 194) more than" in endless.log[0].error


def test_timeout_is_a_failure() -> None:
    run, _run_calls = drive(
        doc(bash("a", "x")), {"a": [Outcome(None, error="timed out after 1 s", timed_out=True)]}
    )
    assert run.log[0].error == "timed out after 1 s"


def test_for_loop_is_inclusive_and_renders_index_and_value() -> None:
    raw = doc(
        bash(
            "a",
            "echo {{loop.index}}={{ loop.value }}",
            loop={"for": {"start": 10, "end": 4, "updateBy": -3}},
        )
    )
    run, run_calls = drive(raw, {})
    assert [c[1] for c in run_calls] == [
        {"commands": ["echo 0=10"]},
        {"commands": ["echo 1=7"]},
        {"commands": ["echo 2=4"]},
    ]
    assert run.log[0].iterations == 3


def test_for_each_over_a_delimited_parameter_with_a_named_loop() -> None:
    raw = doc(
        bash(
            "a",
            "echo {{ pkgs.value }}",
            loop={"name": "pkgs", "forEach": {"list": "{{ list }}", "delimiter": ";"}},
        ),
        parameters=[{"list": {"type": "string", "default": "a;b"}}],
    )
    _run, run_calls = drive(raw, {}, parameters={"list": "x;y;z"})
    assert [c[1] for c in run_calls] == [{"commands": [f"echo {v}"]} for v in "xyz"]


def test_a_failing_iteration_ends_the_loop() -> None:
    raw = doc(
        bash("a", "echo {{ loop.value }}", loop={"forEach": ["p", "q", "r"]}, onFailure="Continue")
    )
    run, run_calls = drive(raw, {"a": [Outcome(0), Outcome(5)]})
    assert len(run_calls) == 2
    assert run.log[0].error == "iteration 1: exit code 5"


def test_chaining_outputs_and_a_missing_output_fails_at_the_step() -> None:
    raw = doc(
        bash("a", "x", onFailure="Ignore"),
        bash("b", "use {{ build.a.outputs.stdout }}", onFailure="Continue"),
        bash("c", "x"),
    )
    _ok, ok_calls = drive(raw, {"a": [Outcome(0, {"stdout": "val"})]})
    assert ok_calls[1] == ("b", {"commands": ["use val"]})
    ignored, _ignored_calls = drive(raw, {"a": [Outcome(1)]})  # an Ignored step has no outputs
    assert statuses(ignored)[1] == ("b", StepStatus.FAILED)
    assert "has not run successfully" in ignored.log[1].error
    assert ignored.log[1].attempts == 0


def test_phase_selection_keeps_document_order_and_cross_phase_chaining_fails_at_the_step() -> None:
    raw = doc(bash("a", "x"))
    raw["phases"].append({"name": "test", "steps": [bash("t", "{{ build.a.outputs.stdout }}")]})
    both, _both_calls = drive(raw, {}, phases=["test", "build"])
    assert [s.phase for s in both.log] == ["build", "test"] and both.succeeded
    only_test, _only_test_calls = drive(raw, {}, phases=["test"])
    assert only_test.log[0].status is StepStatus.FAILED
    with pytest.raises(InputError, match="no such phase"):
        start(parse_component(raw), phases=["validate"])


def test_update_os_baseline() -> None:
    everything = update_os_baseline("DEBIAN")
    assert everything.approval_rules[0].enable_non_security
    assert everything.approval_rules[0].approve_after_days == 0
    some = update_os_baseline("DEBIAN", ["lib*"], ["libbad"])
    assert some.approved_patches == ("lib*",) and not some.approval_rules
    assert some.rejected_patches == ("libbad",)
    assert some.rejected_patches_action is RejectedPatchesAction.BLOCK


def test_the_example_component_validates() -> None:
    from pathlib import Path

    from patchwarden.documents.component import load_component_file

    path = Path(__file__).parents[2] / "examples" / "components" / "hardening.yaml"
    name, component = load_component_file(path)
    assert name == "hardening"
    assert [p.name for p in component.phases] == ["build", "validate", "test"]


def test_pipeline_runs_through_the_action_port_and_reports_steps_as_they_end() -> None:
    from datetime import UTC, datetime

    from patchwarden.core.component import Attempt, StepLog
    from patchwarden.pipeline.component_run import run_component

    class Fake:
        def __init__(self) -> None:
            self.seen: list[Attempt] = []

        def run(self, attempt: Attempt) -> Outcome:
            self.seen.append(attempt)
            return Outcome(0 if attempt.step != "b" else 1, {"stdout": attempt.step})

    component = parse_component(
        doc(bash("a", "x"), bash("b", "x", onFailure="Continue"), bash("u", "x"))
    )
    heard: list[StepLog] = []
    fake = Fake()
    result = run_component(
        component,
        fake,
        root="/r",
        now=datetime(2026, 1, 1, tzinfo=UTC),
        name="demo",
        on_step=heard.append,
    )
    assert [a.step for a in fake.seen] == ["a", "b", "u"]
    assert result.status == "Failed" and [s.step for s in heard] == ["a", "b", "u"]
    update = parse_component(doc({"name": "up", "action": "UpdateOS"}))
    no_pm = run_component(update, fake, root="/r", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert no_pm.steps[0].error == "UpdateOS: no package manager for this root"


def test_cli_validate_and_bad_documents(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from patchwarden.cli.main import main

    good = tmp_path / "c.yaml"
    good.write_text(ENVELOPE)
    with pytest.raises(SystemExit) as exit_:
        main(["component", "validate", str(good)])
    assert exit_.value.code == 0
    assert "component hello is valid; phases: build (1 step)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("schemaVersion: 1.0\nphases: [{name: build, steps: [{name: a, action: X}]}]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["component", "run", str(bad), "--root", str(tmp_path)])
    assert exit_.value.code == 2
    assert "phases[0].steps[0].action: unknown action 'X'" in capsys.readouterr().err
