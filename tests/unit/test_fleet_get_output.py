"""``get compliance NODE`` shows the node's name and its non-compliant patches; ``get
findings`` says when the server has no vulnerability database instead of printing an
empty table (the server's answers are canned here)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from patchwarden.cli import api, fleet

NODE_VIEW = {
    "node_id": "mi-0123",
    "node_name": "web-1",
    "compliance": "NON_COMPLIANT",
    "severity": "INFORMATIONAL",
    "baseline": "AWS-DebianDefaultPatchBaseline",
    "operation": "Scan",
    "operation_time": "2026-03-01T12:00:00Z",
    "patches": [
        {
            "name": "ok0",
            "arch": "all",
            "installed_version": "1.0-1",
            "state": "INSTALLED",
            "available_version": None,
            "severity": "UNSPECIFIED",
        },
        {
            "name": "pkg0",
            "arch": "all",
            "installed_version": "1.0-1",
            "state": "MISSING",
            "available_version": "1.0-1+deb12u1",
            "severity": "UNSPECIFIED",
        },
        {
            "name": "bad",
            "arch": "amd64",
            "installed_version": "2.0-1",
            "state": "FAILED",
            "available_version": "2.0-2",
            "severity": "HIGH",
        },
    ],
}
NO_DB = {"available": False, "message": "no vulnerability database on the server at /x"}


def run_get(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any], kind: str, name: str | None
) -> None:
    class FakeApi:
        def __init__(self, args: argparse.Namespace) -> None:
            pass

        def call(self, method: str, url: str, **kw: Any) -> Any:
            return answers[url]

    monkeypatch.setattr(api, "ServerApi", FakeApi)
    args = argparse.Namespace(kind=kind, name=name, format="table", rules=False)
    assert fleet._get(args) == 0


def test_get_compliance_node_shows_name_and_missing_failed_patches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_get(monkeypatch, {"/api/v1/compliance/mi-0123": NODE_VIEW}, "compliance", "mi-0123")
    out = capsys.readouterr().out
    assert "node_name: web-1" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("NAME"))
    rows = [line.split() for line in lines[header + 1 :]]
    assert [r[0] for r in rows] == ["pkg0", "bad"]
    assert rows[0][3:5] == ["1.0-1+deb12u1", "MISSING"]
    assert "FAILED" in rows[1]


def test_get_findings_without_a_vulnerability_database_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_answer = {"count": 0, "counts": {}, "findings": [], "vulnerability_database": NO_DB}
    run_get(monkeypatch, {"/api/v1/findings": fleet_answer}, "findings", None)
    out = capsys.readouterr().out
    assert out.strip() == "no findings: no vulnerability database on the server at /x"

    node_answer = {
        "node_id": "mi-1",
        "assessed_at": None,
        "assessed": False,
        "warnings": [],
        "findings": [],
    }
    answers = {"/api/v1/nodes/mi-1/findings": node_answer, "/api/v1/findings/database": NO_DB}
    run_get(monkeypatch, answers, "findings", "mi-1")
    assert capsys.readouterr().out.startswith("no findings: no vulnerability database")

    answers["/api/v1/findings/database"] = {"available": True, "message": None}
    run_get(monkeypatch, answers, "findings", "mi-1")
    assert capsys.readouterr().out.strip() == (
        "no findings: this node's inventory has not been assessed yet"
    )
