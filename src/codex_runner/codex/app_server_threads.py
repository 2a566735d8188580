"""Threads on the app-server: what the runtime remembers of each, and how they are opened.

``thread/start`` and ``thread/resume`` take the same settings (cwd, sandbox, approval policy,
model); a resume tells a lost thread (to be replaced) from one that is still closing (to be
retried) by Codex's message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from codex_runner.codex.app_server_turn import TurnChannel
from codex_runner.codex.errors import (
    LOST_THREAD_MESSAGE,
    THREAD_CLOSING_MESSAGE,
    RpcError,
    ThreadLost,
)
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.config import CodexSettings
from codex_runner.domain.events import CodexEvent

# A thread released a moment ago may still be closing when its next turn resumes it; Codex
# says so and asks for a retry. Closing takes milliseconds; past this, the error stands.
RESUME_WHILE_CLOSING_S = 10.0
RESUME_RETRY_S = 0.02


@dataclass
class ThreadState:
    options: ThreadOptions
    generation: int  # process generation the thread is loaded in
    notice: CodexEvent | None = None  # delivered as the first event of the next turn
    context: str | None = None  # earlier context to prepend to the next turn's input


def thread_params(settings: CodexSettings, options: ThreadOptions) -> dict[str, Any]:
    """The settings ``thread/start`` and ``thread/resume`` take: the options, else defaults."""
    params: dict[str, Any] = {"cwd": str(options.cwd)}
    params["sandbox"] = options.sandbox or settings.sandbox
    params["approvalPolicy"] = options.approval_policy or settings.approval_policy
    if model := options.model or settings.model:
        params["model"] = model
    if options.developer_instructions:
        params["developerInstructions"] = options.developer_instructions
    return params


async def resume_on(channel: TurnChannel, thread_id: str, params: dict[str, Any]) -> None:
    """``thread/resume``, retried while Codex still closes the thread; ThreadLost when Codex
    cannot load it (rollout missing or empty)."""
    request = {"threadId": thread_id, **params, "excludeTurns": True}
    deadline = time.monotonic() + RESUME_WHILE_CLOSING_S
    while True:
        try:
            await channel.request("thread/resume", request)
            return
        except RpcError as exc:
            if LOST_THREAD_MESSAGE.search(exc.rpc_message):
                raise ThreadLost(exc.rpc_message) from None
            if not THREAD_CLOSING_MESSAGE.search(exc.rpc_message):
                raise
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RESUME_RETRY_S)
