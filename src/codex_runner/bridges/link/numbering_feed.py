"""Feeds the link's numbering: every event of the runner's tasks is numbered as it is
published, and whatever the bus could not deliver (the link started after the events, or
fell behind) is numbered from the store, task by task from its watermark."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from codex_runner.bridges.link.numbering import NotificationNumbers
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import ACTIVE_STATES
from codex_runner.service.event_bus import EventBus, Lagged
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

CATCH_UP_TASKS = 500  # the most recent tasks a catch-up looks at, beside every active one


class NumberingFeed:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        numbers: NotificationNumbers,
        *,
        on_new: Callable[[], None],
        on_event: Callable[[TaskEvent], None] = lambda _event: None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._numbers = numbers
        self._on_new = on_new
        self._on_event = on_event  # each event as it is published

    async def run(self) -> None:
        """Number events until cancelled."""
        while True:
            # Subscribe first, then catch up: nothing published in between is missed (the
            # numbering ignores what it already numbered).
            subscription = self._bus.subscribe(None)
            try:
                await self.catch_up()
                async for event in subscription:
                    self._on_event(event)
                    if await self._numbers.number(event.task_id, [event.seq]):
                        self._on_new()
            except Lagged:
                log.warning("the link fell behind the task events; catching up from the store")
            finally:
                subscription.close()
            await asyncio.sleep(0)  # let the publisher run before subscribing again

    async def catch_up(self) -> None:
        tasks = {t.id: t for t in await self._store.list_tasks(limit=CATCH_UP_TASKS)}
        tasks.update({t.id: t for t in await self._store.tasks_in_states(ACTIVE_STATES)})
        for task_id in tasks:
            mark = await self._numbers.watermark(task_id)
            while await self._store.last_seq(task_id) > mark:
                events = await self._store.read_events(task_id, after_seq=mark)
                if not events:
                    break
                if await self._numbers.number(task_id, [e.seq for e in events]):
                    self._on_new()
                mark = events[-1].seq
