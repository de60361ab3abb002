"""Schedules that can never fire are refused (when a window is loaded, applied, or previewed
with ``window next``), and a rate window's StartDate in the past is replaced by the time the
window is created, as AWS does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_windows_pipeline import document, store
from window_fakes import T0, World

from patchwarden.cli.main import main
from patchwarden.core.schedule import parse_schedule
from patchwarden.documents import parse_documents
from patchwarden.documents.window import timing
from patchwarden.errors import InputError

WINDOW = """\
apiVersion: patchwarden/v1
kind: MaintenanceWindow
metadata: {name: win1}
spec:
  Schedule: SCHEDULE
  Duration: 3
  Cutoff: 1
  Targets: [{Key: InstanceIds, Values: ["*"]}]
  Tasks:
    - Name: patch
      TaskInvocationParameters: {RunCommand: {Parameters: {Operation: Install}}}
"""


@pytest.mark.parametrize(
    "expression", ["cron(0 0 30 2 ? *)", "cron(0 0 31 4,6,9,11 ? *)", "cron(0 0 L-30 2 ? *)"]
)
def test_a_cron_no_date_matches_is_refused_when_loaded(expression: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_documents(WINDOW.replace("SCHEDULE", expression), "w.yaml")
    message = str(caught.value)
    assert message == f"w.yaml: spec: Schedule {expression}: never fires (no date matches it)"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 0 30 2 ? *)", "never fires (no date matches it)"),
        (
            "at(2020-01-01T00:00:00)",
            "never fires: 2020-01-01T00:00:00 is in the past (now 2026-03-01T12:00:00Z)",
        ),
        (
            "cron(0 0 * * ? 2020-2025)",
            "never fires: its last year, 2025, is in the past (now 2026-03-01T12:00:00Z)",
        ),
        (
            "cron(0 0 1 1 ? 2026)",
            "never fires: its last year, 2026, is in the past (now 2026-03-01T12:00:00Z)",
        ),
    ],
)
def test_check_fires(expression: str, message: str) -> None:
    from patchwarden.core.schedule import check_fires

    with pytest.raises(InputError) as caught:
        check_fires(parse_schedule(expression), T0)
    assert str(caught.value) == f"Schedule {expression}: {message}"


def test_schedules_that_fire_pass() -> None:
    from patchwarden.core.schedule import check_fires

    for expression in ("cron(0 0 29 2 ? *)", "at(2026-03-01T12:01:00)", "cron(0 0 * * ? 2026)"):
        check_fires(parse_schedule(expression), T0)
    # the wall time of at() is read in the window's zone
    check_fires(parse_schedule("at(2026-03-01T12:30:00)"), T0, timezone="America/New_York")
    with pytest.raises(InputError, match="in the past"):
        check_fires(parse_schedule("at(2026-03-01T12:30:00)"), T0, timezone="Asia/Tokyo")


@pytest.mark.parametrize(
    "expression", ["at(2020-01-01T00:00:00)", "cron(0 0 * * ? 2020-2025)", "cron(0 0 30 2 ? *)"]
)
def test_applying_a_window_that_never_fires_is_refused_and_stores_nothing(
    expression: str,
) -> None:
    world = World()
    with pytest.raises(InputError, match=r"spec: Schedule .*never fires"):
        store(world, document(Schedule=expression), T0)
    assert world.windows == {}


def test_reapplying_an_at_window_that_has_run_is_not_refused() -> None:
    world = World()
    store(world, document(Schedule="at(2026-03-01T12:01:00)"), T0)
    window, created = store(world, document(Schedule="at(2026-03-01T12:01:00)"), T0 + timedelta(1))
    assert not created and window.next_execution_at is None
    with pytest.raises(InputError, match="never fires"):  # a changed schedule is checked
        store(world, document(Schedule="at(2026-03-01T12:02:00)"), T0 + timedelta(1))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(["window", "next", *argv])
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 0 30 2 ? *)", "never fires (no date matches it)"),
        ("at(2020-01-01T00:00:00)", "never fires: 2020-01-01T00:00:00 is in the past"),
        ("cron(0 0 * * ? 2020-2025)", "never fires: its last year, 2025, is in the past"),
    ],
)
def test_window_next_says_the_same(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    expression: str,
    message: str,
) -> None:
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-03-01T12:00:00Z")
    code, out, err = run(capsys, "--schedule", expression)
    assert (code, out) == (2, "")
    assert err.startswith(f"patchwarden: error: Schedule {expression}: {message}")
    assert err.count("\n") == 1


# --- rate windows: a StartDate in the past starts at creation (AWS) ------------------------


def test_a_rate_window_with_a_past_start_date_runs_from_its_creation() -> None:
    world = World()
    doc = document(Schedule="rate(1 day)", StartDate="2026-01-01T00:07:00Z")
    window, _ = store(world, doc, T0)
    assert window.next_execution_at == T0 + timedelta(days=1)
    assert timing(doc.spec, anchor=T0).start == T0


def test_a_future_start_date_still_anchors_a_rate_window() -> None:
    world = World()
    start = datetime(2026, 3, 5, 0, 7, tzinfo=UTC)
    doc = document(Schedule="rate(1 day)", StartDate="2026-03-05T00:07:00Z")
    window, _ = store(world, doc, T0)
    assert window.next_execution_at == start
    assert timing(doc.spec, anchor=T0).start == start
    assert timing(doc.spec).start == start
