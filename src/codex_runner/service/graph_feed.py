"""A graph's own event stream: what its children and parent did, as it happened.

The events live on the parent's history (the store records them in the write that changes
a graph task's state, :mod:`codex_runner.domain.graph_progress`); the stream is the
parent's events of the graph types, numbered 1, 2, 3 ... among themselves, so it is
gapless and resumable in its own numbering whatever else the parent's history holds.
Each event keeps ``task_id`` (the parent's id) and carries its place in the parent's
history as ``data.parent_seq``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.graph import Graph
from codex_runner.domain.graph_progress import GRAPH_STREAM_TYPES
from codex_runner.service.event_bus import EventBus, Lagged, Subscription
from codex_runner.service.graphs import find_graph
from codex_runner.store.protocol import DEFAULT_EVENT_PAGE, Store


class GraphFeed:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    async def graph(self, graph_or_task_id: str) -> Graph:
        """The graph named by its id or one of its tasks' ids; raises GraphNotFound."""
        return await find_graph(self._store, graph_or_task_id)

    async def read(
        self, graph: Graph, after: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        """One page of the graph's stream: its events numbered above ``after``."""
        page = await self._store.read_graph_events(graph.parent_id, skip=after, limit=limit)
        return numbered(page, after)

    async def follow(self, graph: Graph, after: int = 0) -> AsyncIterator[TaskEvent]:
        """The graph's events above ``after``: the stored ones, then live ones, forever.

        Subscribes to the parent's events before reading the store, and on each live
        graph event reads the store again from the last number sent: the store's order is
        the stream's numbering, so nothing is skipped or sent twice. A lagging
        subscription is replaced and the store read again.
        """
        last = after
        while True:
            sub = self._bus.subscribe(graph.parent_id)
            try:
                while True:
                    while page := await self.read(graph, last):
                        for event in page:
                            last = event.seq
                            yield event
                    if not await _next_graph_event(sub):
                        return
            except Lagged:
                continue
            finally:
                sub.close()


def numbered(events: Sequence[TaskEvent], after: int) -> list[TaskEvent]:
    """Parent events as the graph stream's events ``after + 1``, ``after + 2`` ..."""
    return [
        TaskEvent(e.task_id, after + i, e.type, e.at, {**e.data, "parent_seq": e.seq})
        for i, e in enumerate(events, start=1)
    ]


async def _next_graph_event(sub: Subscription) -> bool:
    """Wait for the parent's next graph event; False when the subscription ended."""
    async for event in sub:
        if event.type in GRAPH_STREAM_TYPES:
            return True
    return False
