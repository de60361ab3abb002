"""Export of baselines and maintenance windows to SSM: created in moto and read back field
by field; the operations moto lacks (GetPatchBaseline, UpdatePatchBaseline,
UpdateMaintenanceWindow) against botocore Stubbers, whose params and answers are validated
against the SSM model."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from patchwarden.adapters.aws.connector.export import export_baseline
from patchwarden.adapters.aws.connector.window_plan import plan_window
from patchwarden.adapters.aws.connector.windows import DIGEST_TAG, export_window
from patchwarden.documents import parse_documents
from patchwarden.documents.ssm_shapes import UPDATABLE_FIELDS, baseline_fields
from patchwarden.documents.window import WindowDocument

REGION, ACCOUNT = "us-east-1", "123456789012"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASELINE_ID = "pb-0123456789abcdef0"
WINDOW_ID = "mw-0123456789abcdef0"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def baseline(name: str) -> dict[str, Any]:
    """An example PatchBaseline document as the server serves it."""
    text = (EXAMPLES / "baselines" / f"{name}.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def window() -> dict[str, Any]:
    """examples/windows/sunday-web.yaml as the server stores it."""
    path = EXAMPLES / "windows" / "sunday-web.yaml"
    (loaded,) = parse_documents(path.read_text(encoding="utf-8"), str(path))
    assert isinstance(loaded, WindowDocument)
    return loaded.to_json()


def _ssm_backend() -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends[ACCOUNT][REGION]


class UntaggedBaselines:
    """moto's SSM with the Tags of CreatePatchBaseline taken aside (moto cannot tag a
    baseline: InvalidResourceId); the Stubber test below validates them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tags: list[dict[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def create_patch_baseline(self, **params: Any) -> Any:
        self.tags.extend(params.pop("Tags", []))
        return self.client.create_patch_baseline(**params)


def test_a_new_baseline_is_created_tagged_and_registered(aws: Any, connect: Any) -> None:
    endpoint = connect().endpoint_url
    proxy = UntaggedBaselines(aws.client("ssm", region_name=REGION, endpoint_url=endpoint))
    clients = connect(ssm=proxy)
    document = baseline("debian-security-7days")
    outcome = export_baseline(clients, document, ["web"])
    assert proxy.tags == [{"Key": "patchwarden:managed", "Value": "true"}]
    assert outcome.action == "created"
    assert outcome.ssm_id is not None and outcome.ssm_id.startswith("pb-")
    assert outcome.warnings == [
        "ApproveAfterDays has no effect in SSM on DEBIAN (no release dates; Patchwarden uses "
        "first-seen dates)"
    ]
    ssm = aws.client("ssm", endpoint_url=clients.endpoint_url)
    (identity,) = [
        b
        for b in ssm.describe_patch_baselines(
            Filters=[{"Key": "NAME_PREFIX", "Values": ["debian-security-7days"]}]
        )["BaselineIdentities"]
    ]
    assert identity["BaselineId"] == outcome.ssm_id
    assert identity["OperatingSystem"] == "DEBIAN"
    assert identity["BaselineDescription"] == "Debian 12 security updates after a 7-day soak"
    group = ssm.get_patch_baseline_for_patch_group(PatchGroup="web", OperatingSystem="DEBIAN")
    assert group["BaselineId"] == outcome.ssm_id
    # moto has no GetPatchBaseline: read what it stored, field by field
    stored = _ssm_backend().baselines[outcome.ssm_id]
    expected = baseline_fields(document)
    assert stored.name == expected["Name"] == "debian-security-7days"
    assert stored.operating_system == expected["OperatingSystem"]
    assert stored.description == expected["Description"]
    assert stored.global_filters == expected["GlobalFilters"]
    assert stored.approval_rules == expected["ApprovalRules"]
    assert stored.approved_patches == ["linux-image-*", "libc6"]
    assert stored.approved_patches_compliance_level == "HIGH"
    assert stored.approved_patches_enable_non_security is False
    assert stored.rejected_patches == ["telnetd"]
    assert stored.rejected_patches_action == "BLOCK"


def _identity(name: str) -> dict[str, Any]:
    return {
        "BaselineIdentities": [
            {
                "BaselineId": BASELINE_ID,
                "BaselineName": name,
                "OperatingSystem": "DEBIAN",
                "DefaultBaseline": False,
            }
        ]
    }


def _get_answer(document: dict[str, Any]) -> dict[str, Any]:
    """GetPatchBaseline's answer for a baseline SSM holds as ``document`` says."""
    return {
        "BaselineId": BASELINE_ID,
        **baseline_fields(document),
        "PatchGroups": [],
        "CreatedDate": WHEN,
        "ModifiedDate": WHEN,
    }


def test_an_existing_baseline_is_unchanged_then_replaced(connect: Any, stub: Any) -> None:
    ssm, stubber = stub("ssm")
    document = baseline("debian-security-newest-in-release")
    name = document["metadata"]["name"]
    search = {"Filters": [{"Key": "NAME_PREFIX", "Values": [name]}]}
    stubber.add_response("describe_patch_baselines", _identity(name), search)
    stubber.add_response("get_patch_baseline", _get_answer(document), {"BaselineId": BASELINE_ID})
    clients = connect(ssm=ssm)
    same = export_baseline(clients, document)
    assert (same.action, same.ssm_id) == ("unchanged", BASELINE_ID)
    assert same.warnings == [
        "Patchwarden.SecurityUpdates=NEWEST_IN_RELEASE left out (Patchwarden-only)"
    ]

    changed = copy.deepcopy(document)
    changed["spec"]["RejectedPatches"] = ["rsh-server"]
    changed["spec"]["Description"] = "now without rsh"
    fields = baseline_fields(changed)
    stubber.add_response("describe_patch_baselines", _identity(name), search)
    stubber.add_response("get_patch_baseline", _get_answer(document), {"BaselineId": BASELINE_ID})
    update = {
        "BaselineId": BASELINE_ID,
        "Name": name,
        "Replace": True,
        **{f: fields[f] for f in UPDATABLE_FIELDS if f in fields},
    }
    answer = {k: v for k, v in _get_answer(changed).items() if k != "PatchGroups"}
    stubber.add_response("update_patch_baseline", answer, update)
    outcome = export_baseline(clients, changed)
    assert (outcome.action, outcome.ssm_id) == ("updated", BASELINE_ID)


def test_create_patch_baseline_params_are_valid(connect: Any, stub: Any) -> None:
    ssm, stubber = stub("ssm")
    document = baseline("debian-approve-all")
    name = document["metadata"]["name"]
    search = {"Filters": [{"Key": "NAME_PREFIX", "Values": [name]}]}
    stubber.add_response("describe_patch_baselines", {"BaselineIdentities": []}, search)
    create = {
        **baseline_fields(document),
        "Tags": [{"Key": "patchwarden:managed", "Value": "true"}],
    }
    stubber.add_response("create_patch_baseline", {"BaselineId": BASELINE_ID}, create)
    outcome = export_baseline(connect(ssm=ssm), document)
    assert (outcome.action, outcome.ssm_id) == ("created", BASELINE_ID)


def test_a_baseline_ssm_cannot_hold_is_skipped(connect: Any, stub: Any) -> None:
    ssm, _ = stub("ssm")
    document = baseline("debian-security-7days")
    document["spec"]["OperatingSystem"] = "ALPINE"
    outcome = export_baseline(connect(ssm=ssm), document)
    assert outcome.action == "skipped" and outcome.ssm_id is None
    assert outcome.warnings[-1] == "SSM has no ALPINE baselines"


def test_a_window_is_created_then_unchanged_then_its_tasks_replaced(aws: Any, connect: Any) -> None:
    clients = connect()
    document = window()
    outcome = export_window(clients, document)
    assert outcome.action == "created"
    assert outcome.warnings == [
        "task install: MaxConcurrency waves [1, '10%', '50%'] have no SSM equivalent: exported 1",
        "task install: PauseBetweenWavesSeconds, PostHook, RebootCoordination left out "
        "(Patchwarden-only)",
    ]
    ssm = aws.client("ssm", endpoint_url=clients.endpoint_url)
    found = ssm.get_maintenance_window(WindowId=outcome.ssm_id)
    assert {
        k: found.get(k) for k in ("Name", "Schedule", "ScheduleTimezone", "Duration", "Cutoff")
    } == {
        "Name": "sunday-web",
        "Schedule": "cron(0 2 ? * SUN *)",
        "ScheduleTimezone": "Europe/Berlin",
        "Duration": 3,
        "Cutoff": 1,
    }
    assert found["Description"] == "weekly patching of the web tier"
    (target,) = ssm.describe_maintenance_window_targets(WindowId=outcome.ssm_id)["Targets"]
    assert target["Name"] == "patchwarden-window"
    assert target["ResourceType"] == "INSTANCE"
    assert target["Targets"] == [{"Key": "tag:Role", "Values": ["web"]}]
    tasks = {
        t["Name"]: t
        for t in ssm.describe_maintenance_window_tasks(WindowId=outcome.ssm_id)["Tasks"]
    }
    assert sorted(tasks) == ["install", "scan-first"]
    install = tasks["install"]
    assert install["TaskArn"] == "AWS-RunPatchBaseline"
    assert (install["Priority"], install["MaxConcurrency"], install["MaxErrors"]) == (1, "1", "2")
    assert install["Targets"] == [{"Key": "WindowTargetIds", "Values": [target["WindowTargetId"]]}]
    scan = tasks["scan-first"]
    assert (scan["Priority"], scan["MaxConcurrency"], scan["MaxErrors"]) == (0, "50%", "100%")
    # DescribeMaintenanceWindowTasks carries no invocation parameters: moto's stored ones
    stored = _ssm_backend().windows[outcome.ssm_id].tasks[install["WindowTaskId"]]
    assert stored.task_invocation_parameters == {
        "RunCommand": {
            "Parameters": {
                "Operation": ["Install"],
                "RebootOption": ["RebootIfNeeded"],
                "SnapshotId": ["{{WINDOW_EXECUTION_ID}}"],
            }
        }
    }
    assert (stored.task_type, stored.cutoff_behavior) == ("RUN_COMMAND", "CANCEL_TASK")
    tags = ssm.list_tags_for_resource(ResourceType="MaintenanceWindow", ResourceId=outcome.ssm_id)
    assert {"Key": DIGEST_TAG, "Value": plan_window(document).digest} in tags["TagList"]

    again = export_window(clients, document)
    assert (again.action, again.ssm_id) == ("unchanged", outcome.ssm_id)

    document["spec"]["Tasks"][1]["MaxErrors"] = "3"
    changed = export_window(clients, document)
    assert (changed.action, changed.ssm_id) == ("updated", outcome.ssm_id)
    tasks = {
        t["Name"]: t
        for t in ssm.describe_maintenance_window_tasks(WindowId=outcome.ssm_id)["Tasks"]
    }
    assert sorted(tasks) == ["install", "scan-first"] and tasks["install"]["MaxErrors"] == "3"
    (target,) = ssm.describe_maintenance_window_targets(WindowId=outcome.ssm_id)["Targets"]
    assert tasks["install"]["Targets"][0]["Values"] == [target["WindowTargetId"]]
    assert export_window(clients, document).action == "unchanged"


def test_a_window_whose_fields_changed_is_updated(connect: Any, stub: Any) -> None:
    ssm, stubber = stub("ssm")
    document = {
        "apiVersion": "patchwarden/v1",
        "kind": "MaintenanceWindow",
        "metadata": {"name": "nightly"},
        "spec": {"Schedule": "cron(0 1 * * ? *)", "Duration": 4, "Cutoff": 1, "Tasks": []},
    }
    plan = plan_window(document)
    window_id = {"WindowId": WINDOW_ID}
    stubber.add_response(
        "describe_maintenance_windows",
        {"WindowIdentities": [{"WindowId": WINDOW_ID, "Name": "nightly", "Enabled": True}]},
        {"Filters": [{"Key": "Name", "Values": ["nightly"]}]},
    )
    stubber.add_response(
        "get_maintenance_window",
        {
            "WindowId": WINDOW_ID,
            "Name": "nightly",
            "Schedule": "cron(0 1 * * ? *)",
            "ScheduleTimezone": "UTC",
            "Duration": 2,
            "Cutoff": 1,
            "AllowUnassociatedTargets": False,
            "Enabled": True,
            "CreatedDate": WHEN,
            "ModifiedDate": WHEN,
        },
        window_id,
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"TagList": [{"Key": DIGEST_TAG, "Value": "0" * 32}]},
        {"ResourceType": "MaintenanceWindow", "ResourceId": WINDOW_ID},
    )
    stubber.add_response("describe_maintenance_window_targets", {"Targets": []}, window_id)
    stubber.add_response("describe_maintenance_window_tasks", {"Tasks": []}, window_id)
    stubber.add_response(
        "update_maintenance_window",
        {
            "WindowId": WINDOW_ID,
            "Name": "nightly",
            "Schedule": "cron(0 1 * * ? *)",
            "ScheduleTimezone": "UTC",
            "Duration": 4,
            "Cutoff": 1,
            "AllowUnassociatedTargets": False,
            "Enabled": True,
        },
        {**window_id, "Replace": True, "Enabled": True, **plan.window},
    )
    stubber.add_response("describe_maintenance_window_tasks", {"Tasks": []}, window_id)
    stubber.add_response("describe_maintenance_window_targets", {"Targets": []}, window_id)
    stubber.add_response(
        "add_tags_to_resource",
        {},
        {
            "ResourceType": "MaintenanceWindow",
            "ResourceId": WINDOW_ID,
            "Tags": [{"Key": DIGEST_TAG, "Value": plan.digest}],
        },
    )
    outcome = export_window(connect(ssm=ssm), document)
    assert (outcome.action, outcome.ssm_id, outcome.warnings) == ("updated", WINDOW_ID, [])
