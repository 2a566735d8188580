"""Run one turn in a directory from start to end: the job behind ``codex-runner run``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from codex_runner.codex.factory import create_runtime
from codex_runner.codex.runtime import ApprovalHandler, DeltaListener, ThreadOptions, TurnResult
from codex_runner.config import RunnerConfig
from codex_runner.domain.events import CodexEvent

# Told every Codex event of the turn as it happens (the CLI prints them).
CodexEventHandler = Callable[[CodexEvent], None]


async def run_single_turn(
    config: RunnerConfig,
    prompt: str,
    cwd: Path,
    *,
    on_event: CodexEventHandler,
    approvals: ApprovalHandler | None = None,
    thread_id: str | None = None,
    on_delta: DeltaListener | None = None,
) -> TurnResult:
    """Open the configured runtime, start (or resume) a thread in ``cwd``, run ``prompt``,
    hand every event to ``on_event`` as it happens (and every live delta to ``on_delta``),
    and close the runtime."""
    runtime = create_runtime(config, approvals)
    await runtime.start()
    try:
        options = ThreadOptions(cwd=cwd)
        if thread_id:
            thread = await runtime.resume_thread(thread_id, options)
        else:
            thread = await runtime.start_thread(options)
        turn = await runtime.start_turn(thread.id, prompt)
        turn.on_delta(on_delta)
        try:
            async for event in turn.events():
                on_event(event)
        finally:
            if not turn.done:  # cancelled (Ctrl-C): stop Codex's work before closing
                with contextlib.suppress(Exception):
                    await turn.interrupt()
        return await turn.wait()
    finally:
        await runtime.close()
