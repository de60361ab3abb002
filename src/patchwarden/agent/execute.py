"""One RunPatchBaseline invocation through ``pipeline.scan`` / ``pipeline.install``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden import wire
from patchwarden.adapters.clock import PINNABLE
from patchwarden.core.baseline import PatchBaseline
from patchwarden.core.report import Report
from patchwarden.errors import PatchwardenError

if TYPE_CHECKING:
    from patchwarden.adapters.state import LocalState
    from patchwarden.core.model import Inventory
    from patchwarden.pipeline.install import RebootAction
    from patchwarden.ports import PackageManager

FAILED_EXIT = 1
UPDATE_AGENT_EXIT = 2
NOT_A_BUILDER_EXIT = 2
"""Patchwarden-BuildImage sent to an agent not started with ``--image-builder``."""
UPDATE_AGENT_OUTPUT = (
    f"{wire.UPDATE_AGENT_DOCUMENT}: this agent is installed with pip; "
    "upgrade it with pip install --upgrade patchwarden"
)


def not_for_this_agent(delivery: wire.Delivery) -> wire.InvocationResult | None:
    """The answer to a document this (pip-installed) agent does not run, or None.
    AWS-UpdateSSMAgent upgrades the node component's bundle; pip owns this agent."""
    if delivery.document_name == wire.UPDATE_AGENT_DOCUMENT:
        return wire.InvocationResult("Failed", UPDATE_AGENT_EXIT, UPDATE_AGENT_OUTPUT)
    return None


def baseline_of(document: dict[str, Any] | None) -> PatchBaseline | None:
    """The baseline the server resolved (``None``: the predefined default of the OS):
    :func:`patchwarden.documents.baseline_of`, imported when first needed."""
    from patchwarden.documents import baseline_of as read

    return read(document)


@dataclass(frozen=True)
class Outcome:
    """What one invocation leaves: the result to report and the inventory it collected
    (uploaded afterwards without collecting again; ``None`` when the run failed early)."""

    result: wire.InvocationResult
    inventory: Inventory | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    """The report's summary counts (patches per state; empty when the run failed early)."""


class Executor:
    """Runs invocations on one root with the agent's local state."""

    def __init__(
        self,
        root: str,
        state_dir: Path,
        *,
        image_builder: bool = False,
        send_image: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.root = root
        self.state_dir = state_dir
        self.image_builder = image_builder
        self.send_image = send_image

    def _pm_and_state(self) -> tuple[PackageManager, LocalState]:
        from patchwarden.adapters.os import detect
        from patchwarden.adapters.state import LocalState

        pm = detect(self.root, cache_dir=str(self.state_dir / "cache"))
        return pm, LocalState(self.state_dir / "state.db")

    def _reboot(self) -> RebootAction | None:
        if self.root != "/":
            return None  # a sandbox root: the pipeline records a simulated boot
        from patchwarden.adapters.runner import host_reboot

        return host_reboot

    def scan(self, baseline: PatchBaseline | None, snapshot_id: str, refresh: bool) -> Report:
        """RunPatchBaseline Scan."""
        from patchwarden.pipeline.scan import scan

        pm, state = self._pm_and_state()
        try:
            return scan(
                pm, baseline, PINNABLE.now(), state=state, refresh=refresh, snapshot_id=snapshot_id
            )
        finally:
            state.close()

    def install(self, params: dict[str, Any], baseline: PatchBaseline | None) -> Report:
        """RunPatchBaseline Install (with InstallOverrideList: exactly those patches)."""
        from patchwarden.pipeline.install import RebootOption, install, parse_override_list

        overrides = params.get("InstallOverrideList")
        pm, state = self._pm_and_state()
        try:
            return install(
                pm,
                baseline,
                PINNABLE.now(),
                state=state,
                reboot_option=RebootOption.parse(params.get("RebootOption", "RebootIfNeeded")),
                reboot=self._reboot(),
                refresh=True,
                snapshot_id=params.get("SnapshotId", ""),
                override_list=parse_override_list(overrides) if overrides else (),
            )
        finally:
            state.close()

    def build_image(self, delivery: wire.Delivery) -> wire.InvocationResult:
        """Patchwarden-BuildImage (only with ``image_builder``)."""
        if not self.image_builder:
            return wire.InvocationResult(
                "Failed",
                NOT_A_BUILDER_EXIT,
                f"{wire.BUILD_IMAGE_DOCUMENT}: this agent does not build images "
                "(start it with patchwarden agent run --image-builder)",
            )
        from patchwarden.adapters.image.catalog import to_json
        from patchwarden.adapters.image.store import LocalImageStore
        from patchwarden.agent.images import local_deps, run_build_command

        send = self.send_image

        def forward(record: Any) -> None:
            if send is not None:
                send(delivery.invocation_id, to_json(record))

        def deps(store: LocalImageStore) -> Any:
            from patchwarden import settings

            return local_deps(
                store,
                vulndb=settings.vulndb_path(),
                cache_dir=self.state_dir / "cache",
                state=None,
                clock=PINNABLE.now,
            )

        store = LocalImageStore(self.state_dir / "images")
        try:
            return run_build_command(delivery, store, deps, forward)
        finally:
            store.close()

    def run(self, delivery: wire.Delivery) -> Outcome:
        """Run one invocation: the result to report and the inventory it collected."""
        from patchwarden.render.json import report_dict

        refused = not_for_this_agent(delivery)
        if refused is not None:
            return Outcome(refused)
        if delivery.document_name == wire.BUILD_IMAGE_DOCUMENT:
            return Outcome(self.build_image(delivery))
        params = delivery.parameters
        try:
            baseline = baseline_of(delivery.baseline)
            if delivery.operation == "Install":
                report = self.install(params, baseline)
            else:
                report = self.scan(baseline, params.get("SnapshotId", ""), refresh=True)
        except PatchwardenError as exc:
            return Outcome(wire.InvocationResult("Failed", exc.exit_code, str(exc)))
        failed = report.summary.counts.get("FAILED", 0)
        status = "Failed" if delivery.operation == "Install" and failed else "Success"
        result = wire.InvocationResult(
            status,
            FAILED_EXIT if status == "Failed" else 0,
            summary_line(report),
            report_dict(report),
        )
        return Outcome(result, report.inventory, dict(report.summary.counts))


def ended_line(delivery: wire.Delivery, outcome: Outcome, seconds: float) -> str:
    """The agent's one log line of an ended invocation: ids, operation, status, response
    code, duration and the summary counts (or why it failed early)."""
    result = outcome.result
    counts = ", ".join(f"{k} {v}" for k, v in outcome.counts.items() if v)
    if not outcome.counts:
        first = result.output.splitlines()[0] if result.output else ""
        counts = first[:200] or "no report"
    return (
        f"invocation {delivery.invocation_id} of command {delivery.command_id}: "
        f"{_what(delivery)} {result.status} (response code {result.response_code}) "
        f"in {seconds:.1f} s: {counts or 'no patches'}"
    )


def _what(delivery: wire.Delivery) -> str:
    patching = delivery.document_name != wire.UPDATE_AGENT_DOCUMENT
    return delivery.operation if patching else delivery.document_name


def summary_line(report: Report) -> str:
    """``Install: NON_COMPLIANT (baseline X): MISSING 0, FAILED 1, …`` for the output."""
    counts = ", ".join(f"{k} {v}" for k, v in report.summary.counts.items() if v)
    return (
        f"{report.operation.value}: {report.summary.compliance.value} "
        f"(baseline {report.baseline}): {counts or 'no patches'}"
        + (" ; rebooted" if report.rebooted else "")
    )
