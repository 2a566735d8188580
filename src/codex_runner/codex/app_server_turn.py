"""A turn on the app-server runtime: its recorder, pending approvals, and controls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from codex_runner.codex.runtime import TurnInput, TurnRecorder, TurnResult
from codex_runner.domain.events import CodexEvent, ErrorInfo

if TYPE_CHECKING:
    from codex_runner.codex.app_server import AppServerRuntime


class AppServerTurn:
    def __init__(self, runtime: AppServerRuntime, thread_id: str) -> None:
        self._runtime = runtime
        self.recorder = TurnRecorder(thread_id)
        self.turn_id_known = asyncio.Event()
        # approval id -> future the interrupt path resolves to force a decision
        self.pending_approvals: dict[str, asyncio.Future[str]] = {}
        self.last_error: ErrorInfo | None = None
        self.watchdog: asyncio.Task[None] | None = None

    @property
    def thread_id(self) -> str:
        return self.recorder.thread_id

    @property
    def id(self) -> str | None:
        return self.recorder.turn_id

    @property
    def done(self) -> bool:
        return self.recorder.done

    def learn_id(self, turn_id: str) -> None:
        if self.recorder.turn_id is None:
            self.recorder.turn_id = turn_id
        self.turn_id_known.set()

    def events(self) -> AsyncIterator[CodexEvent]:
        return self.recorder.events()

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return await self.recorder.wait(timeout)

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        await self._runtime.steer_turn(self, prompt)

    async def interrupt(self) -> TurnResult:
        return await self._runtime.interrupt_turn(self)

    def force_pending_approvals(self, preferred: Sequence[str] = ("decline", "cancel")) -> None:
        """Answer every parked approval now (before an interrupt, which they would block)."""
        for future in self.pending_approvals.values():
            if not future.done():
                future.set_result(preferred[0])
