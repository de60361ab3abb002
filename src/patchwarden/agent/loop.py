"""The agent's main loop: reconcile the journal, upload inventory, long-poll, run, report.

A server outage never loses a result: results wait in the journal (the spool) and are sent
again, with exponential back-off, until the server acknowledges them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from patchwarden import wire
from patchwarden.agent.client import NodeApi, Refused, ServerUnavailable
from patchwarden.agent.execute import (
    Executor,
    baseline_of,
    ended_line,
    not_for_this_agent,
    summary_line,
)
from patchwarden.agent.journal import Journal
from patchwarden.agent.register import AgentConfig, node_facts
from patchwarden.agent.upload import Uploader
from patchwarden.core.model import Inventory
from patchwarden.errors import PatchwardenError

log = logging.getLogger("patchwarden.agent")
MAX_BACKOFF = 60.0
MAX_OUTPUT = 24_000
"""Output kept when a result is sent again without its report (what the server stores)."""


class Agent:
    """One registered agent (its state directory, server and root)."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        poll_wait: float = 20.0,
        inventory_interval: float = 3600.0,
        client: NodeApi | None = None,
        sleep: Callable[[float], None] = time.sleep,
        image_builder: bool = False,
    ) -> None:
        self.config = config
        self.client = client or NodeApi(config.server, config.credential)
        self.journal = Journal(config.state_dir / "journal.db")
        self.executor = Executor(
            config.root,
            config.state_dir,
            image_builder=image_builder,
            send_image=self.client.put_image if image_builder else None,
        )
        capabilities = ("image-builder",) if image_builder else ()
        self.uploader = Uploader(
            self.client,
            config.state_dir / "inventory.json",
            lambda: node_facts(config.root, capabilities),
        )
        self.poll_wait = poll_wait
        self.inventory_interval = inventory_interval
        self.sleep = sleep
        self._next_inventory = 0.0
        self._failures = 0

    def close(self) -> None:
        """Release the journal and the HTTP client."""
        self.journal.close()
        self.client.close()

    # -- inventory ----------------------------------------------------------------------

    def upload_inventory(self, inventory: Inventory | None = None) -> None:
        """Send the inventory (collected now unless an invocation just collected it)."""
        if inventory is None:
            from patchwarden.adapters.os import detect

            pm = detect(self.config.root, cache_dir=str(self.config.state_dir / "cache"))
            inventory = pm.collect()
        self._next_inventory = time.monotonic() + self.inventory_interval
        try:
            self.uploader.upload(inventory)
        except Refused as exc:  # a 4xx is final: tried again at the next interval, in full
            log.warning("inventory upload refused: %s", exc)

    # -- invocations --------------------------------------------------------------------

    def reconcile(self) -> None:
        """Invocations started before a crash: never run again; re-scan and report truth."""
        for delivery in self.journal.interrupted():
            operation = delivery.operation
            refused = not_for_this_agent(delivery)
            if refused is not None:  # nothing ran: the same answer as at first
                self.journal.finish(delivery.invocation_id, refused)
                continue
            try:
                report = self.executor.scan(
                    baseline_of(delivery.baseline), delivery.parameters.get("SnapshotId", ""), False
                )
            except PatchwardenError as exc:
                result = wire.InvocationResult(
                    "Failed",
                    exc.exit_code,
                    f"agent restarted during {operation}; re-scan failed: {exc}",
                )
            else:
                from patchwarden.render.json import report_dict

                missing = report.summary.counts.get("MISSING", 0)
                stored = report_dict(report)
                # the truth after the interrupted command is stored as that command's result
                # (an Install stays an Install in the fleet's compliance, as SSM records it)
                stored["operation"] = operation
                result = wire.InvocationResult(
                    "Failed" if missing else "Success",
                    1 if missing else 0,
                    f"agent restarted during {operation}; not run again; the node was "
                    f"re-scanned: {summary_line(report)}",
                    stored,
                )
            log.info(
                "invocation %s of command %s: %s %s (response code %s) after a restart: %s",
                delivery.invocation_id,
                delivery.command_id,
                operation,
                result.status,
                result.response_code,
                result.output.splitlines()[0] if result.output else "",
            )
            self.journal.finish(delivery.invocation_id, result)

    def flush(self) -> None:
        """Send every finished, unacknowledged result (the spool)."""
        for invocation_id, result in self.journal.unreported():
            try:
                self.client.report(invocation_id, result)
            except Refused as exc:  # a 4xx is final (gone, not ours, too large): not retried
                log.warning("result of %s refused: %s", invocation_id, exc)
                if exc.status in (400, 413) and result.report is not None:
                    self._report_without_report(invocation_id, result)
            self.journal.ack(invocation_id)

    def _report_without_report(self, invocation_id: str, result: wire.InvocationResult) -> None:
        """Send the status alone when the report made the result unacceptable (too large,
        malformed): the invocation still ends, and the next scan brings the compliance."""
        note = "\n[the compliance report was refused by the server and is not included]"
        bare = wire.InvocationResult(
            result.status, result.response_code, result.output[:MAX_OUTPUT] + note, None
        )
        try:
            self.client.report(invocation_id, bare)
        except Refused as exc:
            log.warning("result of %s refused again without its report: %s", invocation_id, exc)

    def execute(self, delivery: wire.Delivery) -> None:
        """Run one invocation (once: the journal remembers it), log one line when it ends,
        report it, then upload the inventory it collected."""
        if self.journal.seen(delivery.invocation_id):
            return
        self.journal.start(delivery)
        started = time.monotonic()
        outcome = self.executor.run(delivery)
        log.info("%s", ended_line(delivery, outcome, time.monotonic() - started))
        self.journal.finish(delivery.invocation_id, outcome.result)
        self.flush()
        self.upload_inventory(outcome.inventory)

    def step(self, wait: float) -> int:
        """One round: spool, inventory when due, poll, run. Returns invocations run."""
        self.flush()
        if time.monotonic() >= self._next_inventory:
            self.upload_inventory()
        work = [d for d in self.client.poll(wait) if not self.journal.seen(d.invocation_id)]
        for delivery in work:
            self.execute(delivery)
        return len(work)

    def run(self, *, once: bool = False) -> None:
        """Until stopped (or one round with ``once``), backing off while the server is away."""
        self.reconcile()
        while True:
            try:
                ran = self.step(0 if once else self.poll_wait)
                self._failures = 0
                if once:
                    if ran:
                        continue  # drain what is already queued
                    return
            except ServerUnavailable as exc:
                if once:
                    raise
                self._failures += 1
                delay = min(MAX_BACKOFF, 2 ** min(self._failures, 6)) * random.uniform(0.5, 1.0)
                log.warning("%s; retrying in %.0f s", exc, delay)
                self.sleep(delay)
