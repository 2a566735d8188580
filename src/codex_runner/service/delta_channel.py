"""The live channel beside the durable log: a task's deltas, coalesced, for one client.

Deltas are never stored, so a client that cannot keep up loses them instead of slowing
anyone down: once a subscription holds more than its bound it ends, marked ``dropped``, and
its client carries on with the durable events alone (the completed items say everything).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from codex_runner.domain.delta import Delta

# What one subscription may hold before its client counts as too slow for deltas.
MAX_PENDING_ITEMS = 64
MAX_PENDING_CHARS = 256 * 1024


class DeltaSubscription:
    """The deltas of one task published since subscribing, coalesced per item until taken."""

    def __init__(
        self,
        task_id: str,
        *,
        on_close: Callable[[DeltaSubscription], None] = lambda _sub: None,
        max_items: int = MAX_PENDING_ITEMS,
        max_chars: int = MAX_PENDING_CHARS,
    ) -> None:
        self.task_id = task_id
        self._on_close = on_close
        self._max_items = max_items
        self._max_chars = max_chars
        # Keyed by item and kind, in order of each item's first pending piece.
        self._pending: dict[tuple[str, str], Delta] = {}
        self._chars = 0
        self._ready = asyncio.Event()
        self.dropped = False
        self.closed = False

    def offer(self, delta: Delta) -> None:
        """Add a published delta; never blocks. Past the bound, the subscription drops."""
        if self.closed or self.dropped:
            return
        key = (delta.item_id, delta.kind.value)
        earlier = self._pending.get(key)
        merged = delta if earlier is None else earlier.followed_by(delta)
        self._chars += len(merged.text) - (len(earlier.text) if earlier is not None else 0)
        self._pending[key] = merged
        if len(self._pending) > self._max_items or self._chars > self._max_chars:
            self.dropped = True
            self._pending.clear()
            self._chars = 0
            self._on_close(self)
        self._ready.set()

    async def wait_ready(self) -> None:
        """Return once there is something to take, or the subscription dropped or closed."""
        await self._ready.wait()

    def take(self) -> list[Delta]:
        """Every pending delta, one per item, oldest item first; empties the subscription."""
        taken = list(self._pending.values())
        self._pending.clear()
        self._chars = 0
        if not (self.dropped or self.closed):
            self._ready.clear()
        return taken

    def close(self) -> None:
        """Stop receiving deltas (idempotent)."""
        if not self.closed:
            self.closed = True
            self._pending.clear()
            self._ready.set()
            self._on_close(self)
