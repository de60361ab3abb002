"""MaintenanceWindow documents: the example loads; mistakes are one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.documents import load_documents, parse_documents
from patchwarden.documents.window import WindowDocument, timing
from patchwarden.errors import InputError

EXAMPLE = Path(__file__).parents[2] / "examples" / "windows" / "sunday-web.yaml"

BASE = """\
apiVersion: patchwarden/v1
kind: MaintenanceWindow
metadata: {name: win1}
spec:
  Schedule: cron(0 2 ? * SUN *)
  Duration: 3
  Cutoff: 1
  Targets: [{Key: InstanceIds, Values: ["*"]}]
  Tasks:
    - Name: patch
      TaskInvocationParameters: {RunCommand: {Parameters: {Operation: Install}}}
"""


def test_the_example_loads() -> None:
    (doc,) = load_documents(EXAMPLE)
    assert isinstance(doc, WindowDocument)
    assert doc.spec.Tasks[1].MaxConcurrency == [1, "10%", "50%"]
    assert timing(doc.spec).timezone == "Europe/Berlin"
    assert doc.to_json()["spec"]["Duration"] == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Duration: 3", "Duration: 25"), "spec.Duration"),
        (("Cutoff: 1", "Cutoff: 3"), "Cutoff"),
        (("cron(0 2 ? * SUN *)", "cron(0 2 * * SUN *)"), "cron"),
        (("Operation: Install", "Operation: Patch"), "Operation"),
        (("Name: patch", "Name: patch\n      TaskType: LAMBDA"), "spec.Tasks[0].TaskType"),
        (("Name: patch", "Name: patch\n      MaxConcurrency: [1, '0%']"), "MaxConcurrency"),
        (
            (
                "Name: patch",
                "Name: patch\n      PreHook: {DocumentName: AWS-RunShellScript, Parameters: {}}",
            ),
            "PreHook.DocumentName",
        ),
        (
            ("Operation: Install", "Operation: Install, SnapshotId: '{{TARGET_ID}}'"),
            "pseudo-parameter",
        ),
        (("{name: win1}", "{name: 'a b'}"), "metadata.name"),
    ],
)
def test_mistakes_name_the_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_documents(BASE.replace(*change), "w.yaml")


AUTOMATION = """\
    - Name: tag
      TaskType: AUTOMATION
      TaskArn: tag-default
      TaskInvocationParameters:
        Automation: {Parameters: {NodeId: "{{RESOURCE_ID}}", Window: "{{WINDOW_ID}}"}}
"""


def _with_automation(extra: str = "", text: str = AUTOMATION) -> str:
    return BASE + text.replace("      TaskArn:", extra + "      TaskArn:")


def test_an_automation_task_loads_with_defaults() -> None:
    (doc,) = parse_documents(_with_automation(), "w.yaml")
    assert isinstance(doc, WindowDocument)
    task = doc.spec.Tasks[1]
    assert (task.TaskType, task.TaskArn, task.targetless) == ("AUTOMATION", "tag-default", False)
    assert (task.concurrency, task.errors) == ("50", "0")
    assert task.automation.Parameters["NodeId"] == "{{RESOURCE_ID}}"
    stored = doc.to_json()["spec"]["Tasks"][1]
    assert "MaxConcurrency" not in stored and "RunCommand" not in stored["TaskInvocationParameters"]


def test_a_targetless_automation_task_stores_one() -> None:
    text = AUTOMATION.replace("{{RESOURCE_ID}}", "mi-0123456789abcdef0")
    (doc,) = parse_documents(_with_automation("      Targets: []\n", text), "w.yaml")
    assert isinstance(doc, WindowDocument)
    task = doc.spec.Tasks[1]
    assert task.targetless and (task.concurrency, task.errors) == ("1", "1")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      Targets: []\n      MaxConcurrency: '2'\n", "MaxConcurrency: must be omitted"),
        ("      Targets: []\n      MaxErrors: '0'\n", "MaxErrors: must be omitted"),
        ("      Targets: []\n", r"unknown pseudo-parameter \{\{RESOURCE_ID\}\}"),
        (
            "      PreHook: {DocumentName: RunPatchBaseline, Parameters: {Operation: Scan}}\n",
            "PreHook: only RUN_COMMAND tasks",
        ),
        (
            "      RebootCoordination: {MaxRebootingPerGroup: 1}\n",
            "RebootCoordination: only RUN_COMMAND",
        ),
    ],
)
def test_automation_mistakes_name_the_field(extra: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_documents(_with_automation(extra), "w.yaml")


def test_run_command_tasks_keep_their_rules() -> None:
    targetless = BASE.replace("Name: patch", "Name: patch\n      Targets: []")
    with pytest.raises(InputError, match="RUN_COMMAND task needs targets"):
        parse_documents(targetless, "w.yaml")
    other = BASE.replace("Name: patch", "Name: patch\n      TaskArn: tag-default")
    with pytest.raises(InputError, match="TaskArn: a RUN_COMMAND task runs one of"):
        parse_documents(other, "w.yaml")
    automation = BASE.replace(
        "{RunCommand: {Parameters: {Operation: Install}}}", "{Automation: {Parameters: {}}}"
    )
    with pytest.raises(InputError, match="a RUN_COMMAND task takes RunCommand"):
        parse_documents(automation, "w.yaml")
