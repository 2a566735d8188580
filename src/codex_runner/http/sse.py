"""Server-Sent Events for a task's event feed.

Each event is ``id: <seq>`` / ``event: <type>`` / ``data: <EventOut JSON>``, so a client
resumes with ``Last-Event-ID``. A comment line ``: keepalive`` goes out after each quiet
period so proxies keep the connection open.

One pump task per stream reads the service's feed into a small bounded queue; the response
body waits on that queue with a timeout (cancelling a queue read is safe, cancelling the
feed's generator mid-read is not). :class:`EventStreams` owns every pump: it ends them when
a client goes away, and ends them all when the daemon shuts down (an open stream would
otherwise hold the server's graceful shutdown until its deadline).

With a delta subscription, live deltas go out between the durable events as
``event: codex.delta`` without an ``id:`` line (they cannot be replayed), at most one per
item per coalescing window. A client too slow for them loses them, never a durable event,
and is told once with ``event: codex.deltas_dropped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from codex_runner.domain.delta import COALESCE_WINDOW_S, Delta
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.http.wire import EventOut
from codex_runner.service.delta_channel import DeltaSubscription

log = logging.getLogger(__name__)

KEEPALIVE = b": keepalive\n\n"
DEFAULT_KEEPALIVE_S = 15.0
QUEUE_SIZE = 256  # events read ahead of a slow client; the feed itself waits beyond that

StopAfter = Callable[[TaskEvent], Awaitable[bool]]


def encode_event(event: TaskEvent) -> bytes:
    data = EventOut.of(event).model_dump_json()
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


DELTAS_DROPPED = (
    b'event: codex.deltas_dropped\ndata: {"reason": "the client fell behind; '
    b'durable events continue"}\n\n'
)


def encode_delta(delta: Delta) -> bytes:
    return f"event: codex.delta\ndata: {json.dumps(delta.to_dict())}\n\n".encode()


async def _deltas_ready(deltas: DeltaSubscription, not_before: float) -> None:
    """Wait out the coalescing window since the last deltas sent, then for new ones."""
    delay = not_before - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
    await deltas.wait_ready()


async def _pump(events: AsyncIterator[TaskEvent], queue: asyncio.Queue[TaskEvent]) -> None:
    try:
        async for event in events:
            await queue.put(event)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


class EventStreams:
    """The open event streams of one app: counted, and closable all at once."""

    def __init__(self, *, keepalive_s: float = DEFAULT_KEEPALIVE_S) -> None:
        if keepalive_s <= 0:
            raise ValueError("keepalive_s must be positive")
        self.keepalive_s = keepalive_s
        self._pumps: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def open_count(self) -> int:
        return len(self._pumps)

    def close_all(self) -> None:
        """End every open stream (the clients see the response end and may reconnect)."""
        for pump in list(self._pumps):
            pump.cancel()

    async def wait_closed(self, timeout: float) -> None:
        """Wait until no stream is open (their feeds closed); TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    def response(
        self,
        events: AsyncIterator[TaskEvent],
        *,
        stop_after: StopAfter | None = None,
        deltas: DeltaSubscription | None = None,
    ) -> StreamingResponse:
        """A text/event-stream response over ``events`` (and ``deltas`` between them, which
        it closes when done); it ends when the client leaves, when ``stop_after(event)`` says
        so after sending an event, or on :meth:`close_all`."""
        return _EventStreamResponse(
            self._stream(events, stop_after, deltas),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _stream(
        self,
        events: AsyncIterator[TaskEvent],
        stop_after: StopAfter | None,
        deltas: DeltaSubscription | None,
    ) -> AsyncGenerator[bytes, None]:
        queue: asyncio.Queue[TaskEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        pump = asyncio.create_task(_pump(events, queue), name="sse-event-pump")
        self._track(pump)
        getter: asyncio.Task[TaskEvent] | None = None
        delta_waiter: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        deltas_not_before = loop.time()
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(queue.get())
                if deltas is not None and delta_waiter is None:
                    delta_waiter = asyncio.ensure_future(_deltas_ready(deltas, deltas_not_before))
                waiting: set[asyncio.Future[Any]] = {getter, pump}
                if delta_waiter is not None:
                    waiting.add(delta_waiter)
                done, _ = await asyncio.wait(
                    waiting, timeout=self.keepalive_s, return_when=asyncio.FIRST_COMPLETED
                )
                if delta_waiter is not None and delta_waiter in done and deltas is not None:
                    delta_waiter = None
                    if deltas.dropped:
                        deltas = None
                        yield DELTAS_DROPPED
                    else:
                        pieces = deltas.take()
                        deltas_not_before = loop.time() + COALESCE_WINDOW_S
                        if pieces:
                            yield b"".join(encode_delta(d) for d in pieces)
                    if getter not in done:
                        continue
                if getter in done:
                    event = getter.result()
                    getter = None
                    # Deltas still held go first, window or not: Codex sent them before
                    # this event, and an item's deltas must not trail its completion.
                    held = deltas.take() if deltas is not None and not deltas.dropped else []
                    yield b"".join(encode_delta(d) for d in held) + encode_event(event)
                    if stop_after is not None and await stop_after(event):
                        return
                elif pump in done:
                    if not pump.cancelled() and pump.exception() is not None:
                        log.error("event stream feed failed", exc_info=pump.exception())
                    return
                else:
                    yield KEEPALIVE
        finally:
            if getter is not None:
                getter.cancel()
            if delta_waiter is not None:
                delta_waiter.cancel()
            if deltas is not None:
                deltas.close()
            pump.cancel()

    def _track(self, pump: asyncio.Task[None]) -> None:
        self._pumps.add(pump)
        self._idle.clear()
        pump.add_done_callback(self._untrack)

    def _untrack(self, pump: asyncio.Task[None]) -> None:
        self._pumps.discard(pump)
        if not self._pumps:
            self._idle.set()


class _EventStreamResponse(StreamingResponse):
    """Closes its body generator when the response ends for any reason (a client that
    disconnects mid-send leaves the generator suspended at a ``yield`` otherwise)."""

    def __init__(
        self, body: AsyncGenerator[bytes, None], *, media_type: str, headers: dict[str, str]
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with contextlib.suppress(RuntimeError):  # still running: its task is ending it
                await self._body.aclose()
