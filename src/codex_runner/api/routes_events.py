"""A task's event history: pages of stored events, and the live Server-Sent Events feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import Field
from starlette.responses import StreamingResponse

from codex_runner.api.inputs import EventPageLimit, EventsAfter, LastEventId
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router
from codex_runner.http.sse import EventStreams
from codex_runner.http.wire import EventList
from codex_runner.service.tasks import TaskService


def event_routes(service: TaskService, streams: EventStreams) -> Router:
    router = Router(prefix="/v1/tasks", tags=["events"], responses=ERROR_RESPONSES)

    @router.get("/{task_id}/events")
    async def list_events(
        task_id: str,
        after: EventsAfter = 0,
        limit: EventPageLimit = 1000,
    ) -> EventList:
        events = await service.read_events(task_id, after_seq=after, limit=limit)
        return EventList.page(events, after)

    @router.get(
        "/{task_id}/events/stream",
        responses={200: {"content": {"text/event-stream": {}}, "description": "SSE feed."}},
    )
    async def stream_events(
        task_id: str,
        after: EventsAfter = 0,
        until_terminal: Annotated[
            bool, Field(description="End after the event that settles the task.")
        ] = False,
        deltas: Annotated[
            bool,
            Field(
                description="Also send live codex.delta events (not stored, no id) between "
                "the durable events."
            ),
        ] = False,
        last_event_id: LastEventId = None,
    ) -> StreamingResponse:
        """Stored events after ``after`` (or ``Last-Event-ID``), then live ones, no gap."""
        await service.get(task_id)  # 404 before the stream starts
        start = last_event_id if last_event_id is not None else after
        if not until_terminal:
            live = service.live_deltas(task_id) if deltas else None
            return streams.response(service.events(task_id, start), deltas=live)
        watch = service.settle_watch(task_id)
        if await watch.settled_at(start):
            return streams.response(_no_events())  # settled, and everything was sent before
        # Subscribed before the catch-up is read: no delta published meanwhile is missed.
        live = service.live_deltas(task_id) if deltas else None
        return streams.response(
            service.events(task_id, start), stop_after=watch.settled_after, deltas=live
        )

    return router


async def _no_events() -> AsyncIterator[TaskEvent]:
    return
    yield
