"""One lock per chat session, kept only while someone holds it or waits for it.

The bridge serialises the messages of one session (deliver now or queue, dispatch the
next, stop). A plain dict of locks would keep one for every session ever seen, for the
daemon's lifetime; this one forgets a session's lock when its last user lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class SessionLocks:
    def __init__(self) -> None:
        # session key -> (its lock, how many hold it or wait for it)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the ``async with`` block."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Sessions whose lock is held or awaited right now."""
        return len(self._locks)


class StatusLocks(SessionLocks):
    """Per thread: held while its status message is edited, live or from the outbox."""
