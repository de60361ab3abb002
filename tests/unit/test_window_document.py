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
