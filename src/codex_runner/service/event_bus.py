"""Live fan-out of committed task events.

Events reach the bus only after the store has committed them. A subscriber that falls too far
behind is not silently skipped: its subscription ends with :class:`Lagged`, and the consumer
re-reads from the store (``follow`` does exactly that pattern: subscribe, catch up, go live).

Beside the committed events runs a live channel of deltas (pieces of items still streaming),
which are never stored: see :mod:`codex_runner.service.delta_channel`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.service.delta_channel import DeltaSubscription
from codex_runner.store.protocol import Store

DEFAULT_QUEUE_SIZE = 10_000


class Lagged(Exception):
    """The subscriber fell behind and missed events; re-read from the store."""

    def __init__(self, task_id: str | None, limit: int) -> None:
        self.task_id = task_id
        self.limit = limit
        scope = f"task {task_id}" if task_id is not None else "all tasks"
        super().__init__(
            f"subscription to {scope} fell more than {limit} events behind; "
            "re-read the events from the store"
        )


class _Closed:
    pass


_CLOSED = _Closed()


class Subscription:
    """Committed events of one task (or all tasks), in publish order; an async iterator."""

    def __init__(self, bus: EventBus, task_id: str | None, maxsize: int) -> None:
        self._bus = bus
        self.task_id = task_id
        self._maxsize = maxsize
        self._queue: asyncio.Queue[TaskEvent | _Closed] = asyncio.Queue()
        self._lagged = False
        self._closed = False

    def _offer(self, event: TaskEvent) -> None:
        if self._closed or self._lagged:
            return
        if self._queue.qsize() >= self._maxsize:
            self._lagged = True
            self._bus._remove(self)
            self._queue.put_nowait(_CLOSED)
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._remove(self)
            self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> TaskEvent:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, _Closed):
            if self._lagged:
                raise Lagged(self.task_id, self._maxsize)
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subs: dict[str | None, set[Subscription]] = {}
        self._delta_subs: dict[str, set[DeltaSubscription]] = {}

    def subscribe(self, task_id: str | None = None) -> Subscription:
        """Events of ``task_id`` (every task when None) published from now on."""
        sub = Subscription(self, task_id, self._queue_size)
        self._subs.setdefault(task_id, set()).add(sub)
        return sub

    def publish(self, events: Sequence[TaskEvent]) -> None:
        """Hand committed events to every matching subscriber; never blocks."""
        for event in events:
            for key in (event.task_id, None):
                for sub in list(self._subs.get(key, ())):
                    sub._offer(event)

    def subscribe_deltas(self, task_id: str) -> DeltaSubscription:
        """Live deltas of ``task_id`` from now on; close the subscription when done."""
        sub = DeltaSubscription(task_id, on_close=self._forget_deltas)
        self._delta_subs.setdefault(task_id, set()).add(sub)
        return sub

    def _forget_deltas(self, sub: DeltaSubscription) -> None:
        subs = self._delta_subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._delta_subs[sub.task_id]

    def publish_delta(self, task_id: str, delta: Delta) -> None:
        """Hand a live delta to the task's delta subscribers; never blocks, never stored."""
        for sub in list(self._delta_subs.get(task_id, ())):
            sub.offer(delta)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values()) + sum(
            len(s) for s in self._delta_subs.values()
        )

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.task_id]


async def follow(
    store: Store,
    bus: EventBus,
    task_id: str,
    after_seq: int = 0,
    *,
    idle_read_s: float | None = None,
) -> AsyncIterator[TaskEvent]:
    """Events of ``task_id`` after ``after_seq``: the stored ones, then live ones, forever.

    Subscribes first, then reads the catch-up, so nothing committed in between is lost;
    live events already yielded from the store are skipped. If the live subscription lags,
    it re-subscribes and catches up from the store again. With ``idle_read_s`` (hosts
    sharing a store: the task may run on another one, whose events this process's bus never
    sees), a quiet spell that long reads the store for events written elsewhere.
    """
    last = after_seq
    while True:
        sub = bus.subscribe(task_id)
        try:
            while True:
                page = await store.read_events(task_id, after_seq=last)
                for event in page:
                    last = event.seq
                    yield event
                if not page:
                    break
            try:
                while True:
                    try:
                        if idle_read_s is None:
                            event = await anext(sub)
                        else:
                            event = await asyncio.wait_for(anext(sub), idle_read_s)
                    except TimeoutError:
                        for event in await store.read_events(task_id, after_seq=last):
                            last = event.seq
                            yield event
                        continue
                    except StopAsyncIteration:
                        return
                    if event.seq <= last:
                        continue
                    if event.seq > last + 1:
                        # A gap (another host's events, or a lost publish): fill it.
                        for missing in await store.read_events(
                            task_id, after_seq=last, limit=event.seq - last - 1
                        ):
                            last = missing.seq
                            yield missing
                    last = event.seq
                    yield event
            except Lagged:
                continue
        finally:
            sub.close()
