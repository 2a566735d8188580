"""The running tasks' deltas for the chat server, coalesced: at most one per item every
``COALESCE_S`` (a fast stream must not flood the link), pushed as ``codex_notification``
with no ``seq`` (``live: true``): deltas are never stored, so they are not resent after a
reconnect; the completed item, a numbered notification, is the record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from codex_runner.domain.delta import Delta
from codex_runner.service.event_bus import EventBus

log = logging.getLogger(__name__)

COALESCE_S = 0.05

SendDelta = Callable[[str, Delta], Awaitable[None]]


def delta_notification(instance_id: str, task_id: str, delta: Delta) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "seq": None,
        "live": True,
        "method": "codex.delta",
        "params": delta.to_dict(),
        "taskId": task_id,
        "threadId": None,
        "turnId": None,
        "receivedAt": datetime.now(UTC).isoformat(),
    }


class LiveDeltas:
    def __init__(self, bus: EventBus, send: SendDelta, *, coalesce_s: float = COALESCE_S) -> None:
        self._bus = bus
        self._send = send
        self._coalesce_s = coalesce_s
        self._followers: dict[str, asyncio.Task[None]] = {}

    def follow(self, task_id: str) -> None:
        """Forward the task's deltas until :meth:`unfollow` (its turn ended)."""
        if task_id not in self._followers:
            self._followers[task_id] = asyncio.create_task(
                self._forward(task_id), name=f"link-deltas-{task_id}"
            )

    def unfollow(self, task_id: str) -> None:
        follower = self._followers.pop(task_id, None)
        if follower is not None:
            follower.cancel()

    async def close(self) -> None:
        followers = list(self._followers.values())
        self._followers.clear()
        for follower in followers:
            follower.cancel()
        if followers:
            await asyncio.wait(followers, timeout=5)

    async def _forward(self, task_id: str) -> None:
        subscription = self._bus.subscribe_deltas(task_id)
        try:
            while not (subscription.closed or subscription.dropped):
                await subscription.wait_ready()
                for delta in subscription.take():
                    try:
                        await self._send(task_id, delta)
                    except Exception as exc:  # a live piece lost; the record is not
                        log.debug("a delta of %s did not reach the chat server: %s", task_id, exc)
                await asyncio.sleep(self._coalesce_s)
        finally:
            subscription.close()
            if self._followers.get(task_id) is asyncio.current_task():
                del self._followers[task_id]
