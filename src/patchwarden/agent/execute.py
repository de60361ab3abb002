"""One RunPatchBaseline invocation through ``pipeline.scan`` / ``pipeline.install``."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchwarden.core.baseline import PatchBaseline
from patchwarden.core.model import Operation
from patchwarden.core.report import Report
from patchwarden.errors import InputError, PatchwardenError

FAILED_EXIT = 1


def now() -> datetime:
    """The wall clock, or ``PATCHWARDEN_NOW`` (as the CLI)."""
    pinned = os.environ.get("PATCHWARDEN_NOW")
    if pinned:
        value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def baseline_of(document: dict[str, Any] | None) -> PatchBaseline | None:
    """The baseline the server resolved (``None``: the predefined default of the OS)."""
    if document is None:
        return None
    from patchwarden.documents import BaselineDocument, parse_documents

    (doc,) = parse_documents(json.dumps(document), "baseline.json")
    if not isinstance(doc, BaselineDocument):
        raise InputError("the server sent a document that is not a PatchBaseline")
    return doc.baseline


def _override(
    baseline: PatchBaseline | None, patches: list[dict[str, str]], os_name: str
) -> PatchBaseline:
    """InstallOverrideList as a baseline approving exactly the listed patches."""
    approved = tuple(p.get("title") or p["id"] for p in patches)
    return PatchBaseline(
        name=(baseline.name if baseline else "InstallOverrideList") + "-override",
        operating_system=baseline.operating_system if baseline else os_name,
        approved_patches=approved,
        approved_patches_enable_non_security=True,
    )


class Executor:
    """Runs invocations on one root with the agent's local state."""

    def __init__(self, root: str, state_dir: Path) -> None:
        self.root = root
        self.state_dir = state_dir

    def _pm_and_state(self) -> tuple[Any, Any]:
        from patchwarden.adapters.os import detect
        from patchwarden.adapters.state import LocalState

        pm = detect(self.root, cache_dir=str(self.state_dir / "cache"))
        return pm, LocalState(self.state_dir / "state.db")

    def _reboot(self) -> Any:
        if self.root != "/":
            return None  # a sandbox root: the pipeline records a simulated boot

        def reboot() -> None:
            from patchwarden.adapters.runner import LocalRunner

            LocalRunner().run(["shutdown", "-r", "+1", "patchwarden: reboot after patching"])

        return reboot

    def scan(self, baseline: PatchBaseline | None, snapshot_id: str, refresh: bool) -> Report:
        """RunPatchBaseline Scan."""
        from patchwarden.pipeline.scan import scan

        pm, state = self._pm_and_state()
        try:
            return scan(pm, baseline, now(), state=state, refresh=refresh, snapshot_id=snapshot_id)
        finally:
            state.close()

    def install(self, params: dict[str, Any], baseline: PatchBaseline | None) -> Report:
        """RunPatchBaseline Install (with InstallOverrideList: install exactly those
        patches, then judge the node against its baseline)."""
        from patchwarden.pipeline.install import RebootOption, install
        from patchwarden.pipeline.scan import scan

        pm, state = self._pm_and_state()
        snapshot = params.get("SnapshotId", "")
        option = RebootOption.parse(params.get("RebootOption", "RebootIfNeeded"))
        try:
            overrides = params.get("InstallOverrideList")
            if not overrides:
                return install(
                    pm,
                    baseline,
                    now(),
                    state=state,
                    reboot_option=option,
                    reboot=self._reboot(),
                    refresh=True,
                    snapshot_id=snapshot,
                )
            os_name = pm.collect().os.operating_system
            install(
                pm,
                _override(baseline, overrides, os_name),
                now(),
                state=state,
                reboot_option=option,
                reboot=self._reboot(),
                refresh=True,
                snapshot_id=snapshot,
            )
            report = scan(pm, baseline, now(), state=state, snapshot_id=snapshot)
            return replace(report, operation=Operation.INSTALL)
        finally:
            state.close()

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The result to report: status, response code, output and the report."""
        from patchwarden.render.json import report_dict

        params = payload.get("parameters", {})
        operation = params.get("Operation", "Scan")
        try:
            baseline = baseline_of(payload.get("baseline"))
            if operation == "Install":
                report = self.install(params, baseline)
            else:
                report = self.scan(baseline, params.get("SnapshotId", ""), refresh=True)
        except PatchwardenError as exc:
            return {"status": "Failed", "response_code": exc.exit_code, "output": str(exc)}
        failed = report.summary.counts.get("FAILED", 0)
        status = "Failed" if operation == "Install" and failed else "Success"
        return {
            "status": status,
            "response_code": FAILED_EXIT if status == "Failed" else 0,
            "output": summary_line(report),
            "report": report_dict(report),
        }


def summary_line(report: Report) -> str:
    """``Install: NON_COMPLIANT (baseline X): MISSING 0, FAILED 1, …`` for the output."""
    counts = ", ".join(f"{k} {v}" for k, v in report.summary.counts.items() if v)
    return (
        f"{report.operation.value}: {report.summary.compliance.value} "
        f"(baseline {report.baseline}): {counts or 'no patches'}"
        + (" ; rebooted" if report.rebooted else "")
    )
