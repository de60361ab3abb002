"""The work board's batch hand-out (issue 18), on a snapshot given by hand: a node that will
wait does not claim alone, and what a batch hands a node whose long-poll has just ended is
kept for its next poll until a later snapshot says it is no longer running."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from patchwarden.server.fleet.board import Snapshot, WorkBoard


class Reader:
    """The board's reader, answering with :attr:`snap`."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.reads = 0

    async def run(self, fn: Any) -> Snapshot:
        self.reads += 1
        return self.snap


WORK = Snapshot(pending={"n1": ("c1",)}, budget={"c1": 1})
BODY = [{"invocation_id": "i1", "command_id": "c1"}]


def test_a_batch_back_after_the_poll_ended_is_handed_on_the_next_poll() -> None:
    gate = threading.Event()
    wanted: list[dict[str, tuple[str, ...]]] = []

    def batch(waiting: dict[str, tuple[str, ...]]) -> dict[str, list[dict[str, Any]]]:
        wanted.append(dict(waiting))
        gate.wait(10)
        return {"n1": BODY}

    async def scenario() -> None:
        reader = Reader(WORK)
        board = WorkBoard(reader, 0.05, batch)  # type: ignore[arg-type]
        assert not await board.take("n1", will_wait=True)  # left to the batch
        assert not await board.wait("n1", 0.3)  # the batch is still out: the poll ends
        assert wanted == [{"n1": ("c1",)}]
        gate.set()
        handing = board._handing
        assert handing is not None
        await handing
        assert board.handed("n1") == BODY  # the next poll, without a claim
        assert board.handed("n1") == []  # once

    asyncio.run(scenario())


def test_handed_work_is_dropped_once_a_later_snapshot_shows_it_over() -> None:
    async def scenario() -> None:
        reader = Reader(Snapshot(delivered=frozenset({"n1"})))
        board = WorkBoard(reader, 0.05, lambda waiting: {})  # type: ignore[arg-type]
        board._handed["n1"] = (0.0, BODY)  # handed before the snapshots below
        board.changed()
        await board.take("n2")
        assert board.handed("n1") == BODY  # still running: kept
        board._handed["n1"] = (0.0, BODY)
        reader.snap = Snapshot()  # reported, or handed again by another replica: dropped
        board.changed()
        await board.take("n2")
        assert board.handed("n1") == []

    asyncio.run(scenario())


def test_without_batches_a_node_with_work_claims_alone() -> None:
    async def scenario() -> None:
        board = WorkBoard(Reader(WORK), 0.05)  # type: ignore[arg-type]
        assert await board.take("n1", will_wait=True)
        assert not await board.take("n1", will_wait=True)  # the budget is spent

    asyncio.run(scenario())
