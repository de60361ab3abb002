"""The node's main loop: send spooled results, upload the inventory when due, long-poll,
run what came, report.

A result the server cannot take now waits in ``spool.json``; an Install interrupted by a
crash (the journal says ``installing``) is reported Failed and never run again.
"""

import logging
import os
import random
import signal
import time
from typing import Any, Callable, List, Optional

from patchwarden import wire
from patchwarden.node.client import Api, Refused, Unavailable
from patchwarden.node.execute import Executor, Outcome, Runner
from patchwarden.node.process import run_command
from patchwarden.node.state import Done, NodeConfig, NodeProblem, Spool
from patchwarden.node.update import Exec, Updater
from patchwarden.node.upload import Uploader

log = logging.getLogger("patchwarden.node")
MAX_BACKOFF = 60.0
MAX_OUTPUT = 24000


class Stopping(Exception):
    """SIGTERM arrived while the node was idle (or polling)."""


class Node:
    """One registered node."""

    def __init__(
        self,
        config: NodeConfig,
        poll_wait: float = 20.0,
        inventory_interval: float = 3600.0,
        api: Optional[Api] = None,
        runner: Runner = run_command,
        execv: Optional[Exec] = None,
        argv: Optional[List[str]] = None,
        executable: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.api = api or Api(config.server, config.credential, config.ca_file)
        self.uploader = Uploader(self.api, config.root, config.state_dir)
        updater = Updater(
            self.api, runner, argv=argv, executable=executable, execv=execv or os.execv
        )
        self.executor = Executor(config, self.api, self.uploader, runner, updater)
        self.spool = Spool(config.state_dir)
        self.done = Done(config.state_dir)
        self.poll_wait = poll_wait
        self.inventory_interval = inventory_interval
        self.sleep = sleep
        self.next_inventory = 0.0
        self.failures = 0
        self.stop_requested = False
        self.busy = False
        self.pending_after = None  # type: Optional[Callable[[], None]]

    # -- signals ------------------------------------------------------------------------

    def on_sigterm(self, signum: int, frame: Any) -> None:
        """Stop: at once when idle, after the running invocation otherwise."""
        self.stop_requested = True
        if not self.busy:
            raise Stopping()

    # -- results ------------------------------------------------------------------------

    def report(self, invocation_id: str, result: wire.InvocationResult) -> bool:
        """Send a result (spool it when the server is away); True when it was sent."""
        try:
            self._send(invocation_id, result)
        except Unavailable as exc:
            log.warning("result of %s kept to send later: %s", invocation_id, exc)
            self.spool.add(invocation_id, result)
            return False
        return True

    def _send(self, invocation_id: str, result: wire.InvocationResult) -> None:
        try:
            self.api.report(invocation_id, result)
        except Refused as exc:  # final: the invocation is gone, not ours, or too large
            log.warning("result of %s refused: %s", invocation_id, exc)
            if exc.status in (400, 413) and result.report is not None:
                note = "\n[the compliance report was refused by the server and is not included]"
                bare = wire.InvocationResult(
                    result.status, result.response_code, result.output[:MAX_OUTPUT] + note
                )
                try:
                    self.api.report(invocation_id, bare)
                except Refused as again:
                    log.warning("result of %s refused again: %s", invocation_id, again)

    def flush(self) -> None:
        """Send the spooled results, oldest first (:class:`Unavailable` when it cannot)."""
        entries = self.spool.entries()
        while entries:
            invocation_id, result = entries[0]
            self._send(invocation_id, result)  # Unavailable: the rest stays spooled
            entries = entries[1:]
            self.spool.replace(entries)

    def reconcile(self) -> None:
        """An Install the node did not finish is reported Failed, never run again."""
        found = self.executor.interrupted_result()
        if found is None:
            return
        invocation_id, result = found
        if not self.spool.holds(invocation_id):
            log.warning("invocation %s: %s", invocation_id, result.output)
            self.done.add(invocation_id)
            self.report(invocation_id, result)
        self.executor.journal.clear()

    # -- inventory and invocations --------------------------------------------------------

    def upload_inventory(self) -> None:
        """Collect the facts, upload what the server lacks, and send them."""
        self.next_inventory = time.monotonic() + self.inventory_interval
        facts = self.uploader.facts()
        try:
            ack = self.uploader.with_blobs(facts, self.api.upload_facts)
        except Refused as exc:
            log.warning("inventory refused: %s", exc)
            return
        log.info(
            "inventory sent: %d files, %d installed, %d updates",
            len(facts.files),
            ack.installed_count,
            ack.update_count,
        )

    def execute(self, delivery: wire.Delivery) -> None:
        """Run one invocation, log one line, report it, then what follows (reboot, exec)."""
        self.done.add(delivery.invocation_id)
        started = time.monotonic()
        self.busy = True
        try:
            outcome = self.executor.run(delivery)
        except Exception as exc:  # a bug must not kill the loop nor leave it unreported
            log.exception("invocation %s failed unexpectedly", delivery.invocation_id)
            outcome = Outcome(wire.InvocationResult("Failed", 3, "the node failed: {}".format(exc)))
        result = outcome.result
        first = result.output.splitlines()[0] if result.output else ""
        log.info(
            "invocation %s of command %s: %s %s (response code %s) in %.1f s: %s",
            delivery.invocation_id,
            delivery.command_id,
            _operation(delivery),
            result.status,
            result.response_code,
            time.monotonic() - started,
            first[:300],
        )
        try:
            self.report(delivery.invocation_id, result)
            self.executor.journal.clear()
        finally:
            self.busy = False
        if outcome.changed_packages:
            self.next_inventory = 0.0
        if outcome.after is not None:
            self.pending_after = outcome.after

    def step(self, wait: float) -> int:
        """One round: spool, inventory when due, poll, run. Returns invocations run."""
        self.flush()
        if time.monotonic() >= self.next_inventory:
            self.upload_inventory()
        work = [d for d in self.api.poll(wait) if not self.done.seen(d.invocation_id)]
        for delivery in work:
            self.execute(delivery)
            if self.pending_after is not None or self.stop_requested:
                break
        return len(work)

    def _after(self) -> None:
        after, self.pending_after = self.pending_after, None
        if after is not None:
            for handler in logging.getLogger().handlers:
                handler.flush()
            after()

    def run(self, once: bool = False) -> int:
        """Until SIGTERM (or one round with ``once``); the exit code."""
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, self.on_sigterm)
        except ValueError:  # not the main thread (tests)
            previous = None
        try:
            return self._run(once)
        except Stopping:
            log.info("stopping (SIGTERM)")
            return 0
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _run(self, once: bool) -> int:
        log.info(
            "node %s of %s started (root %s)",
            self.config.node_id,
            self.config.server,
            self.config.root,
        )
        self.reconcile()
        while not self.stop_requested:
            try:
                self.step(self.poll_wait)
                self.failures = 0
            except Unavailable as exc:
                if once:
                    log.error("%s", exc)
                    return 3
                self.failures += 1
                delay = min(MAX_BACKOFF, 2.0 ** min(self.failures, 6)) * random.uniform(0.5, 1.0)
                log.warning("%s; retrying in %.0f s", exc, delay)
                self.sleep(delay)
            except (Refused, NodeProblem) as exc:
                if once:
                    log.error("%s", exc)
                    return 2 if isinstance(exc, Refused) else exc.exit_code
                log.error("%s; retrying in %.0f s", exc, MAX_BACKOFF)
                self.sleep(MAX_BACKOFF)
            self._after()
            if once:
                return 0
        log.info("stopping (SIGTERM)")
        return 0


def _operation(delivery: wire.Delivery) -> str:
    if delivery.document_name == wire.UPDATE_AGENT_DOCUMENT:
        return "UpdateAgent"
    return delivery.operation
