"""Warm threads: which threads stay loaded in Codex after their turn, so that a follow-up
skips ``thread/resume``.

The rule only (no I/O): an LRU bounded by count and by idle time, on a clock handed in. It
says which threads to release; the caller releases them on its runtime.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class WarmThreads:
    """Threads kept loaded after their turn, least recently used first.

    ``limit`` bounds how many stay loaded (0 keeps none: every thread is released as its
    turn ends, as before warm threads); ``idle_s`` bounds how long one stays unused.
    """

    def __init__(self, limit: int, idle_s: float, *, clock: Callable[[], float]) -> None:
        if limit < 0:
            raise ValueError(f"warm thread limit must be 0 or more, not {limit}")
        if idle_s < 0:
            raise ValueError(f"warm thread idle time must be 0 or more, not {idle_s}")
        self._limit = limit
        self._idle_s = idle_s
        self._clock = clock
        self._idle_since: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._idle_since

    def __len__(self) -> int:
        return len(self._idle_since)

    def keep(self, thread_id: str) -> list[str]:
        """A thread's turn ended: keep it warm; returns the threads to release now (the
        least recently used past the count bound, or this one when none may stay)."""
        self._idle_since.pop(thread_id, None)
        self._idle_since[thread_id] = self._clock()
        evicted: list[str] = []
        while len(self._idle_since) > self._limit:
            oldest, _ = self._idle_since.popitem(last=False)
            evicted.append(oldest)
        return evicted

    def take(self, thread_id: str) -> bool:
        """A turn starts on the thread (it is in use, not idle): True if it was warm."""
        return self._idle_since.pop(thread_id, None) is not None

    def drop(self, thread_id: str) -> bool:
        """Forget the thread because its task no longer needs it (cancelled, workspace
        removed): True if it was warm, and so must be released."""
        return self.take(thread_id)

    def expired(self) -> list[str]:
        """Forget and return the threads idle for longer than the idle bound."""
        now = self._clock()
        gone = [t for t, since in self._idle_since.items() if now - since >= self._idle_s]
        for thread_id in gone:
            del self._idle_since[thread_id]
        return gone

    def next_expiry_in(self) -> float | None:
        """Seconds until the oldest warm thread expires (0 if overdue); None when none is warm."""
        if not self._idle_since:
            return None
        oldest = next(iter(self._idle_since.values()))
        return max(0.0, oldest + self._idle_s - self._clock())

    def drain(self) -> list[str]:
        """Forget and return every warm thread (shutdown, profile switch)."""
        threads = list(self._idle_since)
        self._idle_since.clear()
        return threads
