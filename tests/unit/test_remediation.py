"""The remediation state machine (attempts, retry spacing, grace period, exceptions) and
execution controls, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core.remediation import (
    Phase,
    RecordException,
    RemediationConfig,
    RemediationState,
    StartRun,
    accept_risk,
    admit,
    clear_exception,
    finished,
    observe,
    parse_remediation,
    retry_delay,
    start_manual,
    started,
    tick,
)
from patchwarden.errors import InputError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AUTO = RemediationConfig(
    "r",
    "book",
    automatic=True,
    maximum_automatic_attempts=3,
    retry_attempt_seconds=30,
    grace_seconds=600,
    exception_seconds=3600,
)


def test_grace_period_then_start() -> None:
    state, decisions = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    assert state.phase is Phase.MARKED and state.due_at == T0 + timedelta(minutes=10)
    assert decisions == ()
    assert tick(AUTO, state, T0 + timedelta(minutes=9))[1] == ()
    state, decisions = tick(AUTO, state, T0 + timedelta(minutes=10))
    assert state.phase is Phase.QUEUED and decisions == (StartRun(),)


def test_compliant_before_the_grace_period_unmarks() -> None:
    state, _ = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    state, _ = observe(AUTO, state, "COMPLIANT", T0 + timedelta(minutes=1))
    assert state.phase is Phase.IDLE
    assert tick(AUTO, state, T0 + timedelta(hours=1))[1] == ()


def test_repeated_non_compliant_keeps_the_first_due_time() -> None:
    state, _ = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    again, _ = observe(AUTO, state, "NON_COMPLIANT", T0 + timedelta(minutes=5))
    assert again.due_at == state.due_at


def test_manual_configuration_never_starts_by_itself() -> None:
    manual = RemediationConfig("r", "book")
    state, _ = observe(manual, RemediationState(), "NON_COMPLIANT", T0)
    assert state.phase is Phase.IDLE
    state, decisions = start_manual(state)
    assert decisions == (StartRun(manual=True),)
    state = started(state, T0)
    assert state.attempts == 0  # manual runs are not automatic attempts


def run_once(
    state: RemediationState, ok: bool, now: datetime
) -> tuple[RemediationState, tuple[object, ...]]:
    state, decisions = tick(AUTO, state, now)
    assert decisions == (StartRun(),), state
    state = started(state, now)
    return finished(AUTO, state, ok, now + timedelta(seconds=1))


def test_attempts_exhausted_record_an_exception_that_expires() -> None:
    state, _ = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    now = T0 + timedelta(minutes=10)
    delay = retry_delay(AUTO)
    assert delay == timedelta(seconds=10)
    for attempt in (1, 2):
        state, decisions = run_once(state, False, now)
        assert state.phase is Phase.MARKED and state.attempts == attempt and decisions == ()
        assert state.due_at == now + timedelta(seconds=1) + delay
        now = state.due_at
    state, decisions = run_once(state, False, now)
    end = now + timedelta(seconds=1)
    assert state.phase is Phase.EXCEPTION
    assert decisions == (RecordException(state.exception_reason, end + timedelta(hours=1)),)
    # no automatic run while the exception holds, whatever the evaluations say
    state, _ = observe(AUTO, state, "NON_COMPLIANT", end + timedelta(minutes=5))
    assert tick(AUTO, state, end + timedelta(minutes=30))[1] == ()
    # expiry: attempts start over, after a new grace period
    state, _ = tick(AUTO, state, end + timedelta(hours=1))
    assert state.phase is Phase.MARKED and state.attempts == 0 and not state.in_exception


def test_a_run_that_succeeds_but_does_not_fix_counts() -> None:
    state, _ = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    now = T0 + timedelta(minutes=10)
    for _ in range(3):
        state, _ = run_once(state, True, now)
        assert state.phase is Phase.SUCCEEDED
        now += timedelta(minutes=1)
        state, decisions = observe(AUTO, state, "NON_COMPLIANT", now)
        now += timedelta(minutes=1)
    assert state.phase is Phase.EXCEPTION and isinstance(decisions[0], RecordException)


def test_compliance_resets_the_attempts() -> None:
    state, _ = observe(AUTO, RemediationState(), "NON_COMPLIANT", T0)
    state, _ = run_once(state, False, T0 + timedelta(minutes=10))
    assert state.attempts == 1
    state, _ = observe(AUTO, state, "COMPLIANT", T0 + timedelta(minutes=11))
    assert state.attempts == 0 and state.phase is Phase.IDLE


def test_risk_acceptance_is_time_boxed() -> None:
    until = T0 + timedelta(days=7)
    state, decisions = accept_risk(RemediationState(), "vendor fix next week", until, T0)
    assert decisions == (RecordException("vendor fix next week", until, manual=True),)
    state, _ = observe(AUTO, state, "NON_COMPLIANT", T0 + timedelta(hours=1))
    assert state.phase is Phase.EXCEPTION
    assert tick(AUTO, state, T0 + timedelta(days=6))[1] == ()
    state, _ = tick(AUTO, state, until)
    assert state.phase is Phase.MARKED  # non-compliant still: remediation resumes


def test_clearing_an_exception_restarts() -> None:
    state, _ = accept_risk(RemediationState(compliance="NON_COMPLIANT"), "x", None, T0)
    assert state.excepted(T0 + timedelta(days=999))
    state, _ = clear_exception(AUTO, state, T0)
    assert state.phase is Phase.MARKED and not state.in_exception


def test_manual_start_refused_while_running() -> None:
    state, _ = start_manual(RemediationState())
    assert start_manual(state)[1] == ()


def test_execution_controls() -> None:
    config = RemediationConfig("r", "b", concurrency_percentage=10, error_percentage=50)
    assert admit(config, targets=40, running=1, failed=0, queued=10) == 3
    assert admit(config, targets=5, running=0, failed=0, queued=10) == 1
    assert admit(config, targets=10, running=0, failed=6, queued=10) == 0
    assert admit(config, targets=10, running=0, failed=5, queued=10) == 1


def test_parse_remediation_aws_shape() -> None:
    config = parse_remediation(
        {
            "ConfigRuleName": "tags",
            "TargetId": "tag-it",
            "Automatic": True,
            "Parameters": {
                "NodeId": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                "Group": {"StaticValue": {"Values": ["default"]}},
            },
            "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 20}},
        }
    )
    assert config.maximum_automatic_attempts == 5 and config.retry_attempt_seconds == 60
    assert config.concurrency_percentage == 20 and config.error_percentage == 50
    assert config.runbook_parameters("n1") == {"NodeId": "n1", "Group": "default"}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"MaximumAutomaticAttempts": 26},
            "MaximumAutomaticAttempts: must be an integer from 1 to 25",
        ),
        ({"RetryAttemptSeconds": 0}, "RetryAttemptSeconds"),
        ({"TargetId": ""}, "TargetId"),
        ({"Parameters": {"X": {"ResourceValue": {"Value": "ARN"}}}}, "Parameters.X.ResourceValue"),
        ({"ExecutionControls": {"SsmControls": {"ErrorPercentage": 0}}}, "ErrorPercentage"),
        ({"Bogus": 1}, "spec.Bogus: unknown field"),
    ],
)
def test_bad_remediations_name_the_field(patch: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {"ConfigRuleName": "r", "TargetId": "b", **patch}
    with pytest.raises(InputError, match=message):
        parse_remediation(raw)
