"""The runbook interpreter: a pure state machine driven by events and an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patchwarden.core.runbook import (
    ApprovalGiven,
    AwaitApprovals,
    AwaitCompliance,
    Cancel,
    ChangeTags,
    Notify,
    RunCommand,
    Status,
    StepFailed,
    StepSucceeded,
    TimerFired,
    WakeAt,
    handle,
    parse_runbook,
    start,
)
from patchwarden.core.runbook.destinations import step_refusal
from patchwarden.errors import InputError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

PATCH = {
    "parameters": {
        "NodeId": {"type": "String"},
        "Operation": {"type": "String", "default": "Install", "allowedValues": ["Scan", "Install"]},
    },
    "mainSteps": [
        {
            "name": "patch",
            "action": "runCommand",
            "maxAttempts": 2,
            "timeoutSeconds": 600,
            "onFailure": "step:tell",
            "inputs": {
                "DocumentName": "RunPatchBaseline",
                "NodeId": "{{NodeId}}",
                "Parameters": {"Operation": "{{Operation}}"},
            },
            "outputs": [{"Name": "Status", "Selector": "$.Status"}],
        },
        {
            "name": "check",
            "action": "branch",
            "inputs": {
                "Choices": [
                    {"NextStep": "done", "Variable": "{{patch.Status}}", "StringEquals": "Success"}
                ],
                "Default": "tell",
            },
        },
        {
            "name": "tell",
            "action": "notify",
            "inputs": {"Destination": "ops-chat", "Message": "{{NodeId}} failed"},
            "isEnd": True,
        },
        {
            "name": "done",
            "action": "addTags",
            "inputs": {"NodeId": "{{NodeId}}", "Tags": {"Patched": "yes"}},
        },
    ],
}


def test_happy_path_walks_branch_and_skips_steps() -> None:
    book = parse_runbook("patch", PATCH)
    t = start(book, {"NodeId": "n1"}, T0)
    assert t.actions == (
        RunCommand("patch", 1, "n1", "RunPatchBaseline", {"Operation": "Install"}),
    )
    assert t.execution.status is Status.IN_PROGRESS
    t = handle(book, t.execution, StepSucceeded("patch", {"Status": "Success"}), T0)
    assert t.actions == (ChangeTags("done", 1, "n1", add={"Patched": "yes"}),)
    assert t.execution.steps["check"].status is Status.SUCCESS
    assert t.execution.steps["tell"].status is Status.PENDING  # skipped by the branch
    t = handle(book, t.execution, StepSucceeded("done"), T0)
    assert t.execution.status is Status.SUCCESS and t.execution.current is None
    assert t.execution.variables["patch.Status"] == "Success"


def test_retries_then_on_failure_step_and_is_end() -> None:
    book = parse_runbook("patch", PATCH)
    t = start(book, {"NodeId": "n1", "Operation": "Scan"}, T0)
    t = handle(book, t.execution, StepFailed("patch", "apt broke"), T0)
    assert [type(a) for a in t.actions] == [RunCommand]
    assert t.actions[0].attempt == 2  # type: ignore[union-attr]
    # a late result of attempt 1 is ignored
    assert handle(book, t.execution, StepSucceeded("patch", attempt=1), T0).execution == t.execution
    t = handle(book, t.execution, StepFailed("patch", "again"), T0)
    assert t.execution.steps["patch"].status is Status.FAILED
    assert t.actions == (
        Notify("tell", 1, "ops-chat", {"runbook": "patch", "step": "tell", "message": "n1 failed"}),
    )
    t = handle(book, t.execution, StepSucceeded("tell"), T0)
    assert t.execution.status is Status.SUCCESS  # tell isEnd; done stays Pending
    assert t.execution.steps["done"].status is Status.PENDING


def test_timeout_counts_as_failure_and_abort_ends_timed_out() -> None:
    spec = {
        "mainSteps": [
            {
                "name": "a",
                "action": "runCommand",
                "timeoutSeconds": 60,
                "inputs": {"DocumentName": "RunPatchBaseline", "NodeId": "n"},
            }
        ]
    }
    book = parse_runbook("t", spec)
    t = start(book, None, T0)
    assert (
        handle(book, t.execution, TimerFired(), T0 + timedelta(seconds=59)).execution == t.execution
    )
    t = handle(book, t.execution, TimerFired(), T0 + timedelta(seconds=60))
    assert t.execution.status is Status.TIMED_OUT
    assert t.execution.steps["a"].status is Status.TIMED_OUT


def test_continue_moves_on_after_failure() -> None:
    spec = {
        "mainSteps": [
            {
                "name": "a",
                "action": "removeTags",
                "onFailure": "Continue",
                "inputs": {"NodeId": "n", "TagKeys": ["x"]},
            },
            {"name": "b", "action": "sleep", "inputs": {"Duration": "PT5M"}},
        ]
    }
    book = parse_runbook("c", spec)
    t = start(book, None, T0)
    assert t.actions == (ChangeTags("a", 1, "n", remove=("x",)),)
    t = handle(book, t.execution, StepFailed("a", "no such node"), T0)
    assert t.actions == (WakeAt("b", T0 + timedelta(minutes=5)),)
    t = handle(book, t.execution, TimerFired(), T0 + timedelta(minutes=5))
    assert t.execution.status is Status.SUCCESS
    assert t.execution.steps["a"].status is Status.FAILED


def test_approve_needs_n_distinct_approvals_or_times_out() -> None:
    spec = {
        "mainSteps": [
            {
                "name": "ok",
                "action": "approve",
                "timeoutSeconds": 3600,
                "inputs": {
                    "MinRequiredApprovals": 2,
                    "Approvers": ["ann", "bob", "cy"],
                    "Message": "go?",
                },
            },
        ]
    }
    book = parse_runbook("a", spec)
    t = start(book, None, T0)
    until = T0 + timedelta(hours=1)
    assert t.actions == (
        AwaitApprovals("ok", 2, ("ann", "bob", "cy"), "go?", until),
        WakeAt("ok", until),
    )
    assert t.execution.status is Status.WAITING
    t = handle(book, t.execution, ApprovalGiven("ok", "ann"), T0)
    t = handle(book, t.execution, ApprovalGiven("ok", "ann"), T0)
    t = handle(book, t.execution, ApprovalGiven("ok", "mallory"), T0)
    assert t.execution.status is Status.WAITING
    done = handle(book, t.execution, ApprovalGiven("ok", "bob"), T0)
    assert done.execution.status is Status.SUCCESS
    rejected = handle(book, t.execution, ApprovalGiven("ok", "cy", approved=False), T0)
    assert rejected.execution.status is Status.FAILED
    late = handle(book, t.execution, TimerFired(), until)
    assert late.execution.status is Status.TIMED_OUT


def test_wait_for_compliance_and_cancel() -> None:
    spec = {
        "parameters": {"NodeId": {"type": "String"}},
        "mainSteps": [
            {
                "name": "w",
                "action": "waitForCompliance",
                "inputs": {"NodeId": "{{NodeId}}", "RuleName": "r"},
            },
        ],
    }
    book = parse_runbook("w", spec)
    t = start(book, {"NodeId": "n9"}, T0)
    until = T0 + timedelta(hours=1)
    assert t.actions[0] == AwaitCompliance("w", 1, "n9", "r", "COMPLIANT", until)
    cancelled = handle(book, t.execution, Cancel(), T0)
    assert cancelled.execution.status is Status.CANCELLED
    assert cancelled.execution.steps["w"].status is Status.CANCELLED


@pytest.mark.parametrize(
    ("choice", "value", "expected"),
    [
        ({"NumericGreater": 3}, 5, "yes"),
        ({"NumericLesserOrEquals": 3}, 5, "no"),
        ({"EqualsIgnoreCase": "ABC"}, "abc", "yes"),
        ({"StartsWith": "ab"}, "xab", "no"),
        ({"EndsWith": "ab"}, "xab", "yes"),
        ({"Contains": "b"}, "abc", "yes"),
        ({"BooleanEquals": True}, "true", "yes"),
        ({"NumericEquals": 1}, "x", "no"),
    ],
)
def test_branch_operators(choice: dict[str, Any], value: object, expected: str) -> None:
    spec = {
        "parameters": {"V": {"type": "String"}},
        "mainSteps": [
            {
                "name": "b",
                "action": "branch",
                "inputs": {
                    "Choices": [{"NextStep": "yes", "Variable": "{{V}}", **choice}],
                    "Default": "no",
                },
            },
            {"name": "yes", "action": "sleep", "inputs": {"Duration": 1}, "isEnd": True},
            {"name": "no", "action": "sleep", "inputs": {"Duration": 2}},
        ],
    }
    book = parse_runbook("b", spec)
    t = start(book, {"V": value if isinstance(value, str) else str(value)}, T0)
    assert t.execution.current == expected


def test_and_or_not() -> None:
    choice = {
        "NextStep": "yes",
        "And": [
            {"Variable": "{{A}}", "StringEquals": "x"},
            {"Not": {"Variable": "{{B}}", "NumericGreater": 5}},
            {
                "Or": [
                    {"Variable": "{{A}}", "Contains": "q"},
                    {"Variable": "{{B}}", "NumericEquals": 2},
                ]
            },
        ],
    }
    spec = {
        "parameters": {"A": {"type": "String"}, "B": {"type": "Integer"}},
        "mainSteps": [
            {"name": "b", "action": "branch", "inputs": {"Choices": [choice]}},
            {"name": "no", "action": "sleep", "inputs": {"Duration": 5}, "isEnd": True},
            {"name": "yes", "action": "sleep", "inputs": {"Duration": 5}},
        ],
    }
    book = parse_runbook("b", spec)
    assert start(book, {"A": "x", "B": 2}, T0).execution.current == "yes"
    # no choice true and no Default: the next step in the list
    assert start(book, {"A": "x", "B": 3}, T0).execution.current == "no"


def test_shell_needs_the_switch() -> None:
    spec = {
        "mainSteps": [
            {
                "name": "sh",
                "action": "aws:runCommand",
                "maxAttempts": 3,
                "inputs": {
                    "DocumentName": "RunShellScript",
                    "NodeId": "n",
                    "Parameters": {"commands": ["id"]},
                },
            }
        ]
    }
    book = parse_runbook("s", spec)
    denied = start(book, None, T0)
    assert denied.execution.status is Status.FAILED and "disabled" in denied.execution.message
    assert denied.execution.steps["sh"].attempts == 1  # no retries of a refusal
    allowed = start(book, None, T0, allow_shell=True)
    assert allowed.actions == (
        RunCommand("sh", 1, "n", "RunShellScript", {"commands": ["id"]}, shell=True),
    )


def test_unresolved_output_reference_fails_the_step() -> None:
    spec = {
        "mainSteps": [
            {"name": "a", "action": "sleep", "inputs": {"Duration": 0}},
            {
                "name": "b",
                "action": "notify",
                "inputs": {"Destination": "ops-chat", "Message": "{{a.Nothing}}"},
            },
        ]
    }
    t = start(parse_runbook("u", spec), None, T0)
    assert t.execution.status is Status.FAILED and "a.Nothing" in t.execution.message


def test_branch_loop_is_bounded() -> None:
    spec = {
        "mainSteps": [
            {
                "name": "a",
                "action": "branch",
                "inputs": {"Choices": [{"NextStep": "a", "Variable": "x", "StringEquals": "x"}]},
            }
        ]
    }
    assert start(parse_runbook("l", spec), None, T0).execution.status is Status.FAILED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s["mainSteps"][0].update(action="explode"), r"mainSteps\[0\]\.action"),
        (lambda s: s["mainSteps"][0].update(onFailure="Retry"), r"mainSteps\[0\]\.onFailure"),
        (lambda s: s["mainSteps"][0].update(nextStep="ghost"), r"nextStep: no step named 'ghost'"),
        (lambda s: s["mainSteps"][1].update(name="patch"), "used twice"),
        (lambda s: s["mainSteps"][0]["inputs"].pop("NodeId"), r"inputs\.NodeId: required"),
        (lambda s: s["mainSteps"][0]["inputs"].update(DocumentName="Evil"), "DocumentName"),
        (
            lambda s: s["mainSteps"][2]["inputs"].update(Message="{{Nope}}"),
            "not a declared parameter",
        ),
        (lambda s: s["mainSteps"][1]["inputs"]["Choices"][0].pop("StringEquals"), "needs Variable"),
        (lambda s: s["mainSteps"][0].update(maxAttempts=0), "maxAttempts"),
        (lambda s: s.update(schemaVersion="2.2"), "schemaVersion"),
    ],
)
def test_bad_runbooks_name_the_field(mutate: Any, message: str) -> None:
    import copy

    spec = copy.deepcopy(PATCH)
    mutate(spec)
    with pytest.raises(InputError, match=message):
        parse_runbook("bad", spec)


def test_parameters_are_checked() -> None:
    book = parse_runbook("patch", PATCH)
    with pytest.raises(InputError, match=r"Parameters\.NodeId: required"):
        start(book, {}, T0)
    with pytest.raises(InputError, match="must be one of Scan, Install"):
        start(book, {"NodeId": "n", "Operation": "Reboot"}, T0)
    with pytest.raises(InputError, match="not a parameter"):
        start(book, {"NodeId": "n", "X": "1"}, T0)


def test_notify_takes_a_destination_never_a_url() -> None:
    def notify(**inputs: Any) -> dict[str, Any]:
        return {"mainSteps": [{"name": "tell", "action": "notify", "inputs": inputs}]}

    with pytest.raises(InputError) as url:
        parse_runbook("page", notify(Url="http://10.0.0.1/", Message="hi"))
    message = str(url.value)
    assert message.endswith(
        "step tell: notify takes a Destination (an admin-configured webhook name), not a Url"
    )
    assert "\n" not in message
    with pytest.raises(InputError) as both:
        parse_runbook("page", notify(Url="http://10.0.0.1/", Destination="ops-chat"))
    assert "step tell" in str(both.value) and "not a Url" in str(both.value)
    with pytest.raises(InputError, match="Destination: required input is missing"):
        parse_runbook("page", notify(Message="hi"))
    book = parse_runbook("page", notify(Destination="ops-chat", Payload={"team": "ops"}))
    assert book.step("tell").inputs["Destination"] == "ops-chat"
    # a stored runbook parsed before this check is refused at send time in the same words
    assert step_refusal("tell", {"Url": "http://h"}, ["ops-chat"]) == message.split(".Url: ")[1]
