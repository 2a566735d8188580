"""The daemon's log retention job: removes old files on its own, and does nothing at 0."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from codex_runner.daemon.logs import remove_old_logs_now_and_then

DEADLINE_S = 10.0


async def test_the_job_removes_files_past_retention_and_keeps_the_rest(tmp_path: Path) -> None:
    old = tmp_path / "runner" / "2000-01-01-00.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}\n")
    legacy = tmp_path / "tasks" / "t_old.jsonl"  # a task log from before the layers
    legacy.parent.mkdir()
    legacy.write_text("{}\n")
    current = tmp_path / "runner" / "2999-01-01-00.jsonl"
    current.write_text("{}\n")
    job = asyncio.create_task(remove_old_logs_now_and_then(tmp_path, 3600.0, interval_s=0.01))
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                if not old.exists():
                    break
                await asyncio.sleep(0.01)  # the job's own pace: there is no event to wait on
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
    assert current.exists()
    assert legacy.exists()  # written just now: young by its modification time


async def test_a_retention_of_zero_keeps_everything(tmp_path: Path) -> None:
    old = tmp_path / "runner" / "2000-01-01-00.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}\n")
    await asyncio.wait_for(remove_old_logs_now_and_then(tmp_path, 0.0, interval_s=0.01), 5)
    assert old.exists()
