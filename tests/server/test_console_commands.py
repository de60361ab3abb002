"""The console's Commands and Maintenance-windows pages over HTTP: their numbers against the
JSON API's, the send-command and cancel forms (roles, CSRF, refusals), the calendar of a
window's runs against the scheduler's own schedule code, and an execution's wave
progress against the API's execution view."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console_helpers import csrf, metric, signed_in
from fleet_helpers import T0, Api, Node
from window_helpers import detail, executions, run_all, tick, window

from patchwarden.core.schedule import next_runs
from patchwarden.server.web.progress import BUCKETS, progress

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _no_background_scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATCHWARDEN_SCHEDULER_INTERVAL", "0")
    yield


def _half_answered(api: Api) -> tuple[dict[str, Any], list[Node]]:
    """A command to four nodes: one succeeded, one failed, one running, one pending."""
    nodes = [api.register(tags={"Patch Group": "web"}) for _ in range(4)]
    ok, failing, running, _pending = nodes  # _pending never polls
    sent = api.send(InstanceIds=[n.id for n in nodes], MaxErrors="1", Comment="half").json()
    (inv,) = ok.poll()
    assert ok.report(inv["invocation_id"], "Success").status_code < 300
    (inv,) = failing.poll()
    assert failing.report(inv["invocation_id"], "Failed").status_code < 300
    assert len(running.poll()) == 1
    return sent, nodes


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_command_pages_show_the_apis_numbers(api: Api) -> None:
    sent, nodes = _half_answered(api)
    command_id = sent["command_id"]
    client = signed_in(api)
    listed = client.get("/commands").text
    (shown,) = api.ok("GET", "/api/v1/commands")
    for field in ("target", "completed", "error"):
        assert metric(listed, f"c-{command_id}-{field}") == shown[f"{field}_count"]
    assert "half" in listed and shown["status"] == "InProgress"
    # the status filter is the API's
    assert metric(client.get("/commands?status=InProgress").text, "commands") == 1
    assert api.ok("GET", "/api/v1/commands", params={"status": "Success"}) == []
    assert metric(client.get("/commands?status=Success").text, "commands") == 0

    page = client.get(f"/commands/{command_id}")
    assert page.status_code == 200
    html = page.text
    full = api.ok("GET", f"/api/v1/commands/{command_id}")
    for field in ("target", "completed", "error"):
        assert metric(html, field) == full[f"{field}_count"]
    statuses = Counter(i["status"] for i in full["invocations"])
    assert statuses == {"Success": 1, "Failed": 1, "InProgress": 1, "Pending": 1}
    for status, n in statuses.items():
        assert metric(html, f"status-{status}") == n
    groups = progress(i["status"] for i in full["invocations"])
    for key, _, _, _ in BUCKETS:
        assert metric(html, f"progress-{key}") == groups[key]
    assert 'data-refresh="3"' in html  # live while it runs
    # rate control: MaxConcurrency 50 of 4 nodes, slow start 1, 2, then the last one
    assert metric(html, "concurrency-limit") == 50 and metric(html, "error-limit") == 1
    assert metric(html, "waves") == 3
    for node in nodes:
        assert f'href="/nodes/{node.id}"' in html
        assert f'href="/commands/{command_id}/invocations/{node.id}"' in html

    ok = nodes[0]
    inv = api.ok("GET", f"/api/v1/commands/{command_id}/invocations/{ok.id}")
    out = client.get(f"/commands/{command_id}/invocations/{ok.id}").text
    assert inv["output"] == f"Success on {ok.id}" and inv["output"] in out
    assert f'data-status="invocation">{inv["status"]}<' in out
    assert client.get(f"/commands/{command_id}/invocations/nope").status_code == 404
    assert client.get("/commands/nope").status_code == 404


def test_a_finished_command_is_not_live(api: Api) -> None:
    node = api.register()
    sent = api.send(InstanceIds=[node.id]).json()
    (inv,) = node.poll()
    node.report(inv["invocation_id"], "Success")
    html = signed_in(api).get(f"/commands/{sent['command_id']}").text
    assert "data-refresh" not in html and 'data-status="command">Success<' in html
    assert (
        "Cancel command"
        not in signed_in(api, "operator").get(f"/commands/{sent['command_id']}").text
    )


def test_the_send_form_calls_the_apis_use_case(api: Api) -> None:
    web = [api.register(tags={"Patch Group": "web"}) for _ in range(2)]
    api.register(tags={"Patch Group": "db"})
    viewer = signed_in(api)
    html = viewer.get("/commands").text
    assert 'method="post" action="/commands"' not in html  # no form
    r = viewer.post("/commands", data={"csrf": csrf(html), "patch_group": "web"})
    assert r.status_code == 403
    assert api.ok("GET", "/api/v1/commands") == []

    client = signed_in(api, "operator")
    html = client.get("/commands").text
    assert 'method="post" action="/commands"' in html
    form = {
        "csrf": csrf(html),
        "target": "patch_group",
        "patch_group": "web",
        "operation": "Install",
        "max_concurrency": "1",
        "max_errors": "0",
        "comment": "from the console",
    }
    assert client.post("/commands", data={**form, "csrf": ""}).status_code == 403
    r = client.post("/commands", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    (made,) = api.ok("GET", "/api/v1/commands")
    assert r.headers["location"].startswith(f"/commands/{made['command_id']}?done=")
    assert made["target_count"] == 2 and made["parameters"]["Operation"] == "Install"
    assert made["targets"]["Targets"] == [{"Key": "tag:Patch Group", "Values": ["web"]}]
    assert made["max_concurrency"] == "1" and made["comment"] == "from the console"
    assert made["requested_by"] == "token:t-operator"
    (audit,) = api.ok("GET", "/api/v1/audit", params={"action": "command.send"})
    assert audit["target"] == made["command_id"]
    assert 'role="status"' in client.get(r.headers["location"]).text

    api.clock.advance(60)  # newest first: a later request time
    by_id = {**form, "target": "instance_ids", "instance_ids": f"{web[0].id}, {web[1].id}"}
    r = client.post("/commands", data={**by_id, "operation": "Scan"}, follow_redirects=False)
    assert r.status_code == 303
    newest = api.ok("GET", "/api/v1/commands")[0]
    assert newest["targets"]["InstanceIds"] == [web[0].id, web[1].id]

    bad = client.post("/commands", data={**form, "max_concurrency": "0"})
    assert bad.status_code == 400
    (error,) = re.findall(r'<p class="error" role="alert">([^<]*)</p>', bad.text)
    assert "MaxConcurrency" in error and "\n" not in error
    assert "Traceback" not in bad.text and 'value="0"' in bad.text  # the form keeps it
    assert error.startswith("MaxConcurrency: must be")
    empty = client.post("/commands", data={**form, "patch_group": " "})
    assert empty.status_code == 400 and "Targets[0].Values" in empty.text
    assert len(api.ok("GET", "/api/v1/commands")) == 2


def test_cancel_from_the_console(api: Api) -> None:
    node = api.register()
    sent = api.send(InstanceIds=[node.id]).json()
    url = f"/commands/{sent['command_id']}"
    viewer = signed_in(api)
    html = viewer.get(url).text
    assert "Cancel command" not in html
    assert viewer.post(f"{url}/cancel", data={"csrf": csrf(html)}).status_code == 403
    client = signed_in(api, "operator")
    html = client.get(url).text
    assert "Cancel command" in html
    assert client.post(f"{url}/cancel", data={}).status_code == 403  # no CSRF token
    r = client.post(f"{url}/cancel", data={"csrf": csrf(html)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"{url}?done=")
    shown = api.ok("GET", f"/api/v1/commands/{sent['command_id']}")
    assert shown["status"] == "Cancelled"
    html = client.get(url).text
    assert 'data-status="command">Cancelled<' in html and "Cancel command" not in html
    assert metric(html, "progress-cancelled") == 1
    gone = client.post("/commands/nope/cancel", data={"csrf": csrf(html)})
    assert gone.status_code == 404


def _calendar(html: str, name: str) -> list[tuple[datetime, str, str]]:
    """(UTC time, UTC text, window-zone text) of each calendar run of ``name``."""
    rows = re.findall(
        rf'<tr data-run="{re.escape(name)}">.*?<time datetime="([^"]+)">([^<]+)</time></td>\s*'
        r"<td>([^<]+) <small",
        html,
        re.S,
    )
    return [(_time(at), utc, zoned.strip()) for at, utc, zoned in rows]


def test_the_calendar_shows_the_schedulers_runs_in_both_zones(api: Api) -> None:
    api.register(tags={"Role": "web"})
    schedule = "cron(0 3 ? * SUN *)"
    spec = {"Schedule": schedule, "ScheduleTimezone": "Europe/Berlin"}
    api.ok("POST", "/api/v1/windows", json=window("berlin", **spec))
    api.ok("POST", "/api/v1/windows", json=window("off", Enabled=False, **spec))
    client = signed_in(api)

    def check(now: datetime) -> list[tuple[datetime, str, str]]:
        runs = _calendar(client.get("/windows").text, "berlin")
        until = now + timedelta(days=14)
        expected = next_runs(schedule, after=now, count=10, timezone="Europe/Berlin")
        assert [at for at, _, _ in runs] == [at for at in expected if at <= until]
        for at, utc, zoned in runs:
            assert utc == at.strftime("%Y-%m-%d %H:%M UTC")
            assert zoned == at.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %Z")
            assert zoned.split()[1] == "03:00"  # 03:00 on the window's wall clock
        assert _calendar(client.get("/windows").text, "off") == []  # disabled: no runs
        return runs

    runs = check(T0)
    assert [zoned for _, _, zoned in runs] == ["2026-03-08 03:00 CET", "2026-03-15 03:00 CET"]
    (listed,) = [w for w in api.ok("GET", "/api/v1/windows") if w["name"] == "berlin"]
    assert _time(listed["next_execution_time"]) == runs[0][0]  # what the scheduler stored

    # the scheduler runs the first one: its next run is the calendar's first
    tick(api, (runs[0][0] - T0).total_seconds() / 60 + 1)
    assert len(executions(api, "berlin")) == 1
    runs = check(api.clock.now())
    (listed,) = [w for w in api.ok("GET", "/api/v1/windows") if w["name"] == "berlin"]
    assert _time(listed["next_execution_time"]) == runs[0][0]

    # across the switch to summer time: still 03:00 in Berlin, one hour earlier in UTC
    api.clock.current = datetime(2026, 3, 20, tzinfo=UTC)
    runs = check(api.clock.now())
    assert [(utc, zoned) for _, utc, zoned in runs] == [
        ("2026-03-22 02:00 UTC", "2026-03-22 03:00 CET"),
        ("2026-03-29 01:00 UTC", "2026-03-29 03:00 CEST"),
    ]
    html = client.get("/windows/berlin").text
    assert "cron(0 3 ? * SUN *)" in html and "Europe/Berlin" in html
    assert "2026-03-29 03:00 CEST" in html
    assert client.get("/windows/nope").status_code == 404


def test_an_execution_shows_the_apis_wave_counts(api: Api) -> None:
    nodes = [api.register(tags={"Role": "web"}) for _ in range(2)]
    api.ok("POST", "/api/v1/windows", json=window(task={"MaxConcurrency": [1], "MaxErrors": "1"}))
    client = signed_in(api)

    def check() -> str:
        run = detail(api)
        html = client.get(f"/windows/-/executions/{run['window_execution_id']}").text
        assert f'data-status="execution">{run["status"]}' in html
        assert metric(html, "targets") == run["target_count"]
        (task,) = run["tasks"]
        name = task["task_name"]
        assert metric(html, f"{name}-waves") == len(task["waves"]) == 2
        assert metric(html, f"{name}-errors") == task["errors"]
        total: Counter[str] = Counter()
        for index, size in enumerate(task["waves"]):
            sent = [c for c in task["commands"] if c["wave"] == index and c["phase"] == "Task"]
            counts = progress(i["status"] for c in sent for i in c["invocations"])
            if not sent:
                counts["pending"] = size
            assert metric(html, f"{name}-w{index + 1}-size") == size
            for key, n in counts.items():
                assert metric(html, f"{name}-w{index + 1}-{key}") == n
                total[key] += n
            for c in sent:
                assert f'href="/commands/{c["command_id"]}"' in html
        for key, _, _, _ in BUCKETS:
            assert metric(html, f"{name}-{key}") == total[key]
        assert ('data-refresh="3"' in html) == (run["status"] in ("PENDING", "IN_PROGRESS"))
        return html

    tick(api, 1)
    html = check()
    assert metric(html, "patch-w1-pending") == 1 and metric(html, "patch-w2-pending") == 1
    run_all(nodes, failing={n.id for n in nodes})  # wave 1 holds one of them
    html = check()
    assert metric(html, "patch-w1-failed") == 1 and "not sent" in html
    tick(api)
    run_all(nodes)
    tick(api)
    html = check()
    assert metric(html, "patch-failed") == 1 and metric(html, "patch-done") == 1
    (run,) = executions(api)
    listed = client.get("/windows/patch-web").text
    assert f'href="/windows/-/executions/{run["window_execution_id"]}"' in listed
    assert metric(listed, "executions") == 1
    assert client.get("/windows/-/executions/nope").status_code == 404
