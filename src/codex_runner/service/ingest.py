"""Turn a live Codex turn's events into durable task events, batching what is ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from codex_runner.codex.runtime import Turn
from codex_runner.domain import durable_event
from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

# Events waiting to be stored; the turn's reader pauses when this many are pending, so a
# firehose from Codex cannot grow memory without bound.
MAX_PENDING_EVENTS = 10_000
MAX_BATCH = 1_000


async def ingest_turn_events(
    store: Store,
    task_id: str,
    turn: Turn,
    *,
    clock: Callable[[], datetime],
    publish: Callable[[Sequence[TaskEvent]], Awaitable[None]],
    publish_delta: Callable[[str, Delta], None] | None = None,
    lease: int | None = None,
) -> None:
    """Store each of ``turn``'s events (all that are ready go in one transaction), then
    publish them; with ``lease``, only while the task still has it (LeaseLost ends the
    ingest once another host has the task). Returns when the turn's event stream ends.
    The turn's live deltas go to ``publish_delta`` as they come, never to the store.

    The published events are built from what was just committed rather than read back:
    the same values, before their JSON round trip (enums and tuples where a reader of the
    store sees strings and lists; identical once serialised).
    """
    queue: asyncio.Queue[CodexEvent | None] = asyncio.Queue(MAX_PENDING_EVENTS)

    async def read() -> None:
        try:
            async for event in turn.events():
                await queue.put(event)
        except Exception:
            log.exception("reading the events of task %s's turn failed", task_id)
        # Not in a finally: once cancelled, nobody reads the queue and a full one would block.
        await queue.put(None)

    if publish_delta is not None:
        turn.on_delta(lambda delta: publish_delta(task_id, delta))
    reader = asyncio.create_task(read())
    try:
        ended = False
        while not ended:
            batch: list[CodexEvent] = []
            item = await queue.get()
            while True:
                if item is None:
                    ended = True
                    break
                batch.append(item)
                if queue.empty() or len(batch) >= MAX_BATCH:
                    break
                item = queue.get_nowait()
            if batch:
                now = clock()
                new = [durable_event.codex(ev, at=now) for ev in batch]
                seqs = await store.append_events(task_id, new, lease=lease)
                await publish(
                    [
                        TaskEvent(task_id, seq, e.type, e.at, e.data)
                        for seq, e in zip(seqs, new, strict=True)
                    ]
                )
    finally:
        turn.on_delta(None)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
