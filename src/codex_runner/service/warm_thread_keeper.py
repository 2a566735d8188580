"""Keeps threads warm on a Codex runtime: applies :class:`WarmThreads` (the rule) by
releasing the threads it lets go, and expires idle ones on a timer task.

A runtime with nothing loaded between turns (``codex exec``) is unharmed: releasing later
only forgets its record of the thread later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from codex_runner.codex.runtime import CodexRuntime
from codex_runner.service.warm_threads import WarmThreads

log = logging.getLogger(__name__)

# The timer wakes at least this often, so a clock that jumps cannot stall it for long.
MAX_TIMER_WAIT_S = 60.0


class WarmThreadKeeper:
    """The warm threads of one runtime, with the timer task that expires idle ones."""

    def __init__(
        self,
        runtime: CodexRuntime,
        *,
        limit: int,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtime = runtime
        self._warm = WarmThreads(limit, idle_s, clock=clock)
        self._changed = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._warm

    def __len__(self) -> int:
        return len(self._warm)

    def start(self) -> None:
        """Start the idle-expiry timer (idempotent)."""
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._expire_idle(), name="warm-thread-expiry")

    async def close(self) -> None:
        """Stop the timer and release every warm thread (shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.release_all()

    def take(self, thread_id: str) -> None:
        """A turn is about to use the thread: it is no longer idle, so nothing releases it."""
        self._warm.take(thread_id)

    async def keep(self, thread_id: str) -> None:
        """The thread's turn ended: keep it loaded, releasing what the bound lets go."""
        for evicted in self._warm.keep(thread_id):
            await self._release(evicted)
        self._changed.set()

    async def release(self, thread_id: str | None) -> None:
        """Release the thread now if it is warm (its task was cancelled or collected)."""
        if thread_id is not None and self._warm.drop(thread_id):
            await self._release(thread_id)

    async def release_all(self) -> None:
        """Release every warm thread (before a profile switch, at shutdown)."""
        for thread_id in self._warm.drain():
            await self._release(thread_id)

    async def _release(self, thread_id: str) -> None:
        # Releasing costs only memory when it fails; the timer must survive it.
        try:
            await self._runtime.release_thread(thread_id)
        except Exception as exc:
            log.info("could not release warm thread %s: %s", thread_id, exc)

    async def _expire_idle(self) -> None:
        while True:
            wait = self._warm.next_expiry_in()
            wait = MAX_TIMER_WAIT_S if wait is None else min(wait, MAX_TIMER_WAIT_S)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
            for thread_id in self._warm.expired():
                await self._release(thread_id)
