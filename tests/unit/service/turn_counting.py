"""A runtime fake's part that counts running turns and says when none run: what a switch
of the Codex runtime (an auth profile, a Codex release) asks before restarting it."""

from __future__ import annotations

import asyncio


class TurnCounting:
    def __init__(self) -> None:
        self.turns = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def start_turn(self) -> None:
        self.turns += 1
        self._idle.clear()

    def end_turn(self) -> None:
        self.turns -= 1
        if self.turns == 0:
            self._idle.set()

    def running_turns(self) -> int:
        return self.turns

    async def wait_idle(self) -> None:
        await self._idle.wait()
