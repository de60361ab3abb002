"""``patchwarden window next``: the done-when example and the error path."""

from __future__ import annotations

import json

import pytest

from patchwarden.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(["window", "next", *argv])
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


def test_sundays_two_am_berlin_across_spring_forward(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--schedule",
        "cron(0 2 ? * SUN *)",
        "--timezone",
        "Europe/Berlin",
        "--after",
        "2026-03-20T00:00:00Z",
        "--count",
        "3",
    )
    assert code == 0
    assert out.splitlines() == [
        "Sun 2026-03-22 02:00:00 CET  (2026-03-22T01:00:00Z)",
        # 2026-03-29 02:00 does not exist in Berlin: skipped
        "Sun 2026-04-05 02:00:00 CEST  (2026-04-05T00:00:00Z)",
        "Sun 2026-04-12 02:00:00 CEST  (2026-04-12T00:00:00Z)",
    ]


def test_json_and_a_naive_after_is_wall_time_in_the_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "--schedule",
        "cron(0 2 ? * SUN *)",
        "--timezone",
        "Europe/Berlin",
        "--after",
        "2026-11-29T02:00:00",  # the run itself, Berlin time: strictly after it
        "--count",
        "1",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == {
        "schedule": "cron(0 2 ? * SUN *)",
        "timezone": "Europe/Berlin",
        "runs": [{"local": "2026-12-06T02:00:00+01:00", "utc": "2026-12-06T01:00:00Z"}],
    }


def test_offset_and_an_ending_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--schedule",
        "cron(0 2 ? * TUE#2 2026)",
        "--offset",
        "2",
        "--after",
        "2026-11-27T00:00:00Z",
    )
    assert code == 0
    assert out.splitlines() == [
        "Thu 2026-12-10 02:00:00 UTC  (2026-12-10T02:00:00Z)",
        "(no further runs: cron(0 2 ? * TUE#2 2026) ends)",
    ]


def test_now_comes_from_the_pinned_clock(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHWARDEN_NOW", "2026-01-01T00:00:00Z")
    code, out, _ = run(capsys, "--schedule", "rate(1 day)", "-n", "1")
    assert code == 0
    assert out == "Fri 2026-01-02 00:00:00 UTC  (2026-01-02T00:00:00Z)\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--schedule", "cron(0 25 ? * SUN *)"],
            "patchwarden: error: cron(0 25 ? * SUN *): hour field '25': must be 0-23\n",
        ),
        (
            ["--schedule", "rate(1 day)", "--timezone", "Nowhere/City"],
            "patchwarden: error: time zone 'Nowhere/City': not a known IANA time zone\n",
        ),
        (["--schedule", "rate(1 day)", "--count", "0"], "--count 0: must be at least 1"),
        (["--schedule", "rate(1 day)", "--offset", "2"], "only allowed with cron()"),
        (["--schedule", "cron(0 2 ? * SUN *)", "--offset", "9"], "--offset 9"),
        (["--schedule", "rate(1 day)", "--after", "yesterday"], "--after: not an ISO 8601"),
    ],
)
def test_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
