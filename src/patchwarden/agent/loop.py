"""The agent's main loop: reconcile the journal, upload inventory, long-poll, run, report.

A server outage never loses a result: results wait in the journal (the spool) and are sent
again, with exponential back-off, until the server acknowledges them.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patchwarden.agent.client import Client, Refused, ServerUnavailable
from patchwarden.agent.execute import Executor, baseline_of, summary_line
from patchwarden.agent.journal import Journal
from patchwarden.agent.register import AgentConfig
from patchwarden.core.inventory_hash import content_hash, inventory_items, item_hash
from patchwarden.errors import PatchwardenError

log = logging.getLogger("patchwarden.agent")
MAX_BACKOFF = 60.0


class Agent:
    """One registered agent (its state directory, server and root)."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        poll_wait: float = 20.0,
        inventory_interval: float = 3600.0,
        client: Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.client = client or Client(config.server, config.credential)
        self.journal = Journal(config.state_dir / "journal.db")
        self.executor = Executor(config.root, config.state_dir)
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

    @property
    def _inventory_file(self) -> Path:
        return self.config.state_dir / "inventory.json"

    def upload_inventory(self) -> None:
        """Send the inventory: a delta against the last acknowledged one, in full when the
        server holds something else (409) or nothing was sent yet."""
        from patchwarden.adapters.os import detect

        pm = detect(self.config.root, cache_dir=str(self.config.state_dir / "cache"))
        inventory = pm.collect()
        items = {item_hash(i): i for i in inventory_items(inventory)}
        digest = content_hash(items)
        collected = inventory.collected_at.isoformat() if inventory.collected_at else None
        try:
            previous = json.loads(self._inventory_file.read_text())
        except (OSError, ValueError):
            previous = None
        answer = None
        if previous is not None:
            old = set(previous["item_hashes"])
            delta = {
                "base_hash": previous["content_hash"],
                "content_hash": digest,
                "added": [i for h, i in items.items() if h not in old],
                "removed": sorted(old - set(items)),
                "collected_at": collected,
            }
            try:
                answer = self.client.upload_delta(delta)
            except Refused as exc:
                if exc.status != 409:
                    raise
        if answer is None:
            from patchwarden.agent.register import node_facts

            self.client.upload_full(
                {
                    "facts": node_facts(self.config.root),
                    "items": list(items.values()),
                    "content_hash": digest,
                    "collected_at": collected,
                }
            )
        self._inventory_file.write_text(
            json.dumps({"content_hash": digest, "item_hashes": sorted(items)})
        )
        self._next_inventory = time.monotonic() + self.inventory_interval

    # -- invocations --------------------------------------------------------------------

    def reconcile(self) -> None:
        """Invocations started before a crash: never run again; re-scan and report truth."""
        for payload in self.journal.interrupted():
            params = payload.get("parameters", {})
            try:
                report = self.executor.scan(
                    baseline_of(payload.get("baseline")), params.get("SnapshotId", ""), False
                )
            except PatchwardenError as exc:
                result: dict[str, Any] = {
                    "status": "Failed",
                    "response_code": exc.exit_code,
                    "output": f"agent restarted during {params.get('Operation')}; "
                    f"re-scan failed: {exc}",
                }
            else:
                from patchwarden.render.json import report_dict

                missing = report.summary.counts.get("MISSING", 0)
                stored = report_dict(report)
                # the truth after the interrupted command is stored as that command's result
                # (an Install stays an Install in the fleet's compliance, as SSM records it)
                stored["operation"] = params.get("Operation") or stored.get("operation")
                result = {
                    "status": "Failed" if missing else "Success",
                    "response_code": 1 if missing else 0,
                    "output": f"agent restarted during {params.get('Operation')}; not run "
                    f"again; the node was re-scanned: {summary_line(report)}",
                    "report": stored,
                }
            self.journal.finish(payload["invocation_id"], result)

    def flush(self) -> None:
        """Send every finished, unacknowledged result (the spool)."""
        for invocation_id, result in self.journal.unreported():
            try:
                self.client.report(invocation_id, result)
            except Refused as exc:  # gone or not ours any more: nothing to retry
                log.warning("result of %s refused: %s", invocation_id, exc)
            self.journal.ack(invocation_id)

    def execute(self, payload: dict[str, Any]) -> None:
        """Run one invocation (once: the journal remembers it), then report it."""
        if self.journal.seen(payload["invocation_id"]):
            return
        self.journal.start(payload)
        result = self.executor.run(payload)
        self.journal.finish(payload["invocation_id"], result)
        self.flush()
        self.upload_inventory()

    def step(self, wait: float) -> int:
        """One round: spool, inventory when due, poll, run. Returns invocations run."""
        self.flush()
        if time.monotonic() >= self._next_inventory:
            self.upload_inventory()
        work = [p for p in self.client.poll(wait) if not self.journal.seen(p["invocation_id"])]
        for payload in work:
            self.execute(payload)
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
