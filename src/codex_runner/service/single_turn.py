"""Run one turn in a directory from start to end: the job behind ``codex-runner run``.

The thread each run used is remembered per directory in the runner's store (not in a file
in the user's directory), so ``run --continue`` resumes the last conversation held there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.codex.factory import create_runtime
from codex_runner.codex.runtime import ApprovalHandler, DeltaListener, ThreadOptions, TurnResult
from codex_runner.config import RunnerConfig
from codex_runner.domain.events import CodexEvent
from codex_runner.store.protocol import Store

# Told every Codex event of the turn as it happens (the CLI prints them).
CodexEventHandler = Callable[[CodexEvent], None]


class NoEarlierRun(Exception):
    """``run --continue`` in a directory where no earlier ``run`` left a thread."""

    def __init__(self, cwd: Path) -> None:
        super().__init__(f"no earlier `run` in {cwd}; run without --continue")
        self.cwd = cwd


async def continued_thread(store: Store, cwd: Path) -> str:
    """The thread the last ``run`` in ``cwd`` (resolved) used; raises NoEarlierRun when
    none did."""
    thread_id = await store.directory_thread(str(cwd))
    if thread_id is None:
        raise NoEarlierRun(cwd)
    return thread_id


async def run_single_turn(
    config: RunnerConfig,
    prompt: str,
    cwd: Path,
    *,
    on_event: CodexEventHandler,
    approvals: ApprovalHandler | None = None,
    thread_id: str | None = None,
    on_delta: DeltaListener | None = None,
    directories: Store | None = None,
) -> TurnResult:
    """Open the configured runtime, start (or resume) a thread in ``cwd``, run ``prompt``,
    hand every event to ``on_event`` as it happens (and every live delta to ``on_delta``),
    and close the runtime. With ``directories``, the thread is recorded there as the one
    last used in ``cwd`` (resolved: the key :func:`continued_thread` looks up)."""
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
        result = await turn.wait()
        if directories is not None and result.thread_id:
            # Codex's own id (exec names its thread only once the turn runs).
            now = datetime.now(UTC)
            await directories.record_directory_thread(str(cwd), result.thread_id, now)
        return result
    finally:
        await runtime.close()
