"""``patchwarden apply -f`` says what each document makes the server do on its own, and
``patchwarden remediation list`` shows the automatic starts still to come (the API is
faked: what the CLI prints of its answers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

import pytest

from patchwarden.cli.main import main

PACK = Path(__file__).parents[2] / "examples" / "conformance-packs" / "patching-essentials.yaml"
LINE = (
    "rule essentials-patch-compliance: automatic remediation 'essentials-install-patches' "
    "(RunPatchBaseline Install, RebootIfNeeded; waitForCompliance) after 300 s on "
    "NON_COMPLIANT nodes (up to 3 attempts, 20 % of nodes at a time)"
)


class FakeApi:
    answers: ClassVar[dict[tuple[str, str], Any]] = {}
    calls: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, args: argparse.Namespace) -> None:
        pass

    def call(self, method: str, path: str, **_: Any) -> Any:
        FakeApi.calls.append((method, path))
        return FakeApi.answers[(method, path)]


def run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr("patchwarden.cli.api.ServerApi", FakeApi)
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    return int(exited.value.code or 0)


def test_apply_prints_each_automatic_action(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeApi.answers = {
        ("POST", "/api/v1/apply"): {
            "applied": [
                {
                    "kind": "ConformancePack",
                    "name": "patching-essentials",
                    "result": "created",
                    "automatic_actions": [LINE],
                }
            ]
        }
    }
    assert run(monkeypatch, "apply", "-f", str(PACK)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ConformancePack patching-essentials created",
        f"  {LINE}",
    ]


def test_remediation_list_shows_pending_automatic_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeApi.answers = {
        ("GET", "/api/v1/remediations"): {
            "remediations": [],
            "states": [],
            "pending": [
                {
                    "rule": "essentials-patch-compliance",
                    "resource_id": "mi-0123",
                    "runbook": "essentials-install-patches",
                    "phase": "MARKED",
                    "due_at": "2026-03-01T12:05:00+00:00",
                    "attempt": 1,
                }
            ],
            "exceptions": [],
        }
    }
    assert run(monkeypatch, "remediation", "list") == 0
    out = capsys.readouterr().out
    assert "pending automatic starts" in out
    (row,) = [line for line in out.splitlines() if "mi-0123" in line]
    assert "essentials-install-patches" in row and "2026-03-01T12:05:00+00:00" in row
