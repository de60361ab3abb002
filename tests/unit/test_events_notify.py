"""Application events and their notification targets on plain values: which target wants
what, the two payload formats, the backoff, secrets kept out of errors, the targets
document checked, and the ``finding.new`` summary of an assessment round."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.core import events, notify
from patchwarden.core.events import Event, Severity
from patchwarden.core.notify import Target, Targets
from patchwarden.core.suppression import FindingRecord
from patchwarden.core.vuln import AdvisoryStatus, Finding, FindingStatus, FixAvailable
from patchwarden.core.vuln import Severity as Level
from patchwarden.errors import InputError
from patchwarden.pipeline.events import NO_EVENTS, Recorded
from patchwarden.pipeline.fleet.assess import new_serious

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_target_wants_its_types_at_its_severity() -> None:
    windows = Target("w", "https://h.example/x", events=("window.*",), min_severity=Severity.ERROR)
    failed = events.window_finished(T0, "patch", "e-1", "FAILED", "1 task failed")
    good = events.window_finished(T0, "patch", "e-1", "SUCCESS", "")
    sent = events.command_sent(T0, "c-1", "AWS-RunPatchBaseline", "Install", 3, "me")
    assert windows.wants(failed) and not windows.wants(good) and not windows.wants(sent)
    everything = Target("all", "https://h.example/x")
    gave_up = events.notification_failed(T0, 7, "command.sent", "all", 8, "answered HTTP 500")
    assert everything.wants(sent) and not everything.wants(gave_up)  # never notified


def test_the_two_formats() -> None:
    event = events.command_finished(T0, "c-1", "AWS-RunPatchBaseline", "Failed", 3, 1, 3)
    as_json = notify.payload(Target("j", "https://h.example/x"), event, 42)
    assert as_json == {"id": 42, **event.to_json()}
    assert Event.from_json(as_json) == event
    slack = notify.payload(Target("s", "https://h.example/x", "slack"), event, 42)
    assert slack["text"].startswith(":x: [error] command.finished: command c-1")
    assert "\n" not in slack["text"] and slack["blocks"][0]["text"]["text"] == slack["text"]


def test_backoff_doubles_up_to_its_cap_and_gives_up() -> None:
    waits = [notify.backoff(n).total_seconds() for n in range(1, 9)]
    assert waits == [10, 20, 40, 80, 160, 320, 600, 600]
    first = notify.after_attempt(0, "answered HTTP 500", T0)
    assert (first.status, first.attempts, first.next_attempt_at) == (
        "pending",
        1,
        T0 + timedelta(seconds=10),
    )
    assert notify.after_attempt(3, None, T0).status == "delivered"
    last = notify.after_attempt(notify.MAX_ATTEMPTS - 1, "timed\nout", T0)
    assert (last.status, last.error, last.next_attempt_at) == ("failed", "timed out", None)


def test_errors_lose_what_a_url_hides() -> None:
    url = "https://user:pw@hooks.example/T000/secret?token=abc"
    error = f"cannot connect to {url} (path /T000/secret, token=abc, pw)"
    scrubbed = notify.scrub(error, url)
    for secret in ("T000", "secret", "token=abc", "pw"):
        assert secret not in scrubbed, scrubbed


def test_the_targets_document() -> None:
    doc = {
        "targets": [{"name": "a", "url": "https://h.example/x", "events": "command.*"}],
        "allow_http": False,
    }
    targets = Targets.from_json(doc)
    assert targets.targets == (Target("a", "https://h.example/x", events=("command.*",)),)
    assert Targets.from_json(targets.to_json()) == targets
    assert targets.to_json(show_urls=False)["targets"][0]["url"] == "https://h.example/…"
    with pytest.raises(InputError, match="allow_http: true or false"):
        Targets.from_json({**doc, "allow_http": "yes"})
    with pytest.raises(InputError, match="private range"):
        Targets.from_json({"targets": [{"name": "a", "url": "https://192.168.1.1/x"}]})
    assert notify.pattern_refusal("*.failed") is None
    assert "matches no event type" in (notify.pattern_refusal("nothing.*") or "")


def test_a_summary_is_one_bounded_line() -> None:
    event = events.make("vulndb.stale", T0, Severity.WARNING, "p", "a\nb  " + "x" * 400)
    assert "\n" not in event.summary and len(event.summary) == events.MAX_SUMMARY
    assert Severity.CRITICAL.rank > Severity.ERROR.rank > Severity.WARNING.rank
    recorded = Recorded()
    recorded.emit(event)
    NO_EVENTS.emit(event)
    assert recorded.events == [event]


def _record(vid: str, severity: Level, **kw: object) -> FindingRecord:
    base = Finding(
        vulnerability_id=vid,
        aliases=(),
        package_name="openssl",
        package_version="3.0.1",
        package_arch="amd64",
        source_name="openssl",
        fixed_version=None,
        fix_available=FixAvailable.NO,
        severity=severity,
        severity_source="cvss",
        advisory_status=AdvisoryStatus.AFFECTED,
        sources=("debian-tracker",),
    )
    return FindingRecord(replace(base, **kw))  # type: ignore[arg-type]


def test_new_serious_findings_make_one_event_per_round() -> None:
    old = _record("CVE-2026-1", Level.CRITICAL)
    records = [
        old,
        _record("CVE-2026-2", Level.HIGH),
        _record("CVE-2026-3", Level.MEDIUM),  # not serious
        _record("CVE-2026-4", Level.LOW, known_exploited=True),  # exploited: serious
        _record("CVE-2026-5", Level.CRITICAL, status=FindingStatus.SUPPRESSED),
        _record("CVE-2026-6", Level.CRITICAL, aliases=("DSA-1",)),
    ]
    history = [old, _record("DSA-1", Level.CRITICAL)]  # CVE-2026-6 was DSA-1: renamed
    (event,) = new_serious("mi-1", history, records, T0)
    assert event.type == "finding.new" and event.subject == "mi-1"
    assert event.severity is Severity.CRITICAL  # a known-exploited one
    assert event.details["count"] == 2
    assert [f["vulnerability_id"] for f in event.details["findings"]] == [
        "CVE-2026-4",
        "CVE-2026-2",
    ]
    assert new_serious("mi-1", records, records, T0) == ()
    assert new_serious("mi-1", [], None, T0) == ()
    (high,) = new_serious("mi-1", [], [_record("CVE-2026-2", Level.HIGH)], T0)
    assert high.severity is Severity.WARNING


def test_slack_text_cannot_mention_or_link() -> None:
    event = events.make(
        "vulndb.stale", T0, Severity.WARNING, "<!here>", "<!channel> & <http://x|y>"
    )
    slack = notify.payload(Target("s", "https://h.example/x", "slack"), event, 1)
    assert "<" not in json.dumps(slack) and "&lt;!channel&gt; &amp;" in slack["text"]
