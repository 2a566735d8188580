"""Delivery of the outbox: every post reaches the chat, in order per thread, whatever its mood.

A lane (one thread) sends only its oldest entry; while the chat is down that entry is retried
with exponential backoff (base, doubling, capped) and everything behind it waits, so messages
arrive in the order Codex wrote them. Entries live in SQLite, so a restart loses none.
The chat refusing an entry for good (a deleted channel, a missing scope) drops it, recorded.
The chat itself is behind :class:`~codex_runner.bridges.chat.transport.ChatTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from codex_runner.bridges.chat import task_log as what
from codex_runner.bridges.chat.bridge_db import UPDATE, BridgeDb, OutboxEntry
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable
from codex_runner.bridges.chat.session_locks import StatusLocks
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.bridges.chat.transport import ChatTransport

log = logging.getLogger(__name__)


def backoff_delay(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before retry number ``attempts`` (1-based): base, 2*base, 4*base, ... capped."""
    return float(min(max_s, base_s * (2 ** max(0, attempts - 1))))


class Outbox:
    """Owns the delivery loop; ``notify()`` after queueing posts wakes it."""

    def __init__(
        self,
        db: BridgeDb,
        transport: ChatTransport,
        task_log: TaskLog,
        *,
        retry_base_s: float,
        retry_max_s: float,
        clock: Callable[[], float] = time.time,
        status_locks: StatusLocks | None = None,
    ) -> None:
        self._db = db
        # Shared with the live edits of status messages: an update waits for one on its way.
        self._status_locks = status_locks if status_locks is not None else StatusLocks()
        self._transport = transport
        self._log = task_log
        self._base = retry_base_s
        self._max = retry_max_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def retry_now(self) -> None:
        """The chat is back (a bridge's connection made again): what waits out a backoff
        goes now instead of when its delay ends."""
        self._db.retry_now()
        self.notify()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=f"{self._log.bridge}-outbox")

    async def stop(self, timeout: float = 5.0) -> None:
        if self._loop is None:
            return
        self._loop.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._loop, timeout)
        self._loop = None

    async def wait_idle(self, timeout: float) -> None:
        """Wait until the outbox is empty (for shutdown and tests)."""
        async with asyncio.timeout(timeout):
            while self._db.outbox_size():
                self._idle.clear()
                self._wake.set()
                await self._idle.wait()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            heads = self._db.outbox_heads()
            now = self._clock()
            due = [e for e in heads if e.next_at <= now]
            if due:
                await asyncio.gather(*(self._deliver(e) for e in due))
                continue
            if not heads:
                self._idle.set()
            delay = min((e.next_at for e in heads), default=None)
            timeout = None if delay is None else max(0.0, delay - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _deliver(self, entry: OutboxEntry) -> None:
        self._db.mark_attempt(entry.id)
        post = entry.post
        try:
            message_id = await self._send(entry)
        except ChatUnavailable as exc:
            attempts = entry.attempts + 1
            delay = backoff_delay(attempts, self._base, self._max)
            self._db.retry_later(entry.id, self._clock() + delay, str(exc))
            log.warning(
                "%s unavailable (%s); retrying %s in %.1fs", self._log.bridge, exc, post.op, delay
            )
            await self._log.record(
                post.task_id,
                what.DELIVERY_RETRY,
                {"op": post.op, "error": str(exc), "attempt": attempts, "retry_in_s": delay},
            )
            return
        except (ChatRejected, OSError, ValueError) as exc:
            self._db.drop(entry.id)
            log.error("dropped a %s %s: %s", self._log.bridge, post.op, exc)
            await self._log.record(
                post.task_id, what.DELIVERY_DROPPED, {"op": post.op, "error": str(exc)}
            )
            return
        self._db.delivered(entry, message_id)
        await self._log.record(
            post.task_id, what.DELIVERED, self._transport.receipt(post, message_id)
        )

    async def _send(self, entry: OutboxEntry) -> str | None:
        post = entry.post
        if post.op != UPDATE:
            return await self._transport.send(post)
        message_id = self._db.message_id(post.lane, str(post.payload["ref"]))
        if message_id is None:
            raise ValueError(f"no posted message {post.payload['ref']} to update")
        async with self._status_locks.hold(post.lane):
            await self._transport.edit(post, message_id)
        return message_id
