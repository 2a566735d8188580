"""SIGTERM (how systemd and container runtimes stop a service) with several tasks running."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from ..acceptance.daemon.harness import wait_event
from .conftest import FAST_CODEX, StartDaemon
from .invariants import assert_no_orphans, assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance

# The grace Codex gets, plus the daemon's own shutdown: far more than a clean stop needs.
STOP_BOUND_S = FAST_CODEX["shutdown_grace_s"] + 20


async def test_sigterm_under_load_interrupts_running_tasks_reaps_codex_and_removes_run_files(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    assert daemon.proc is not None
    async with daemon.client() as client:
        tasks = []
        for prompt in ("slow", "busy work", "slow"):
            body = {"prompt": prompt, "repo": str(repo)}
            tasks.append((await client.post("/v1/tasks", json=body)).json())
        for task in tasks:
            await wait_event(client, task["id"], "codex.turn.started")
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        code = daemon.proc.wait(timeout=STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"SIGTERM did not stop the daemon: {daemon.log.read_text()}") from None
    assert code == 0, daemon.log.read_text()[-2000:]
    assert_no_run_files(daemon.home)
    await assert_no_orphans(tmp_path)
    await daemon.start()
    async with daemon.client() as client:
        for task in tasks:
            stopped = (await client.get(f"/v1/tasks/{task['id']}")).json()
            assert stopped["state"] == "interrupted", stopped
            assert "stop" in stopped["reason"] and "SIGTERM" in stopped["reason"], stopped
        histories = await assert_nothing_lost(client, [task["id"] for task in tasks])
        # Interrupted by the stop itself, not reconciled by the next start.
        for events in histories.values():
            assert "task.reconciled" not in [event["type"] for event in events]
    daemon.stop()
    assert_no_run_files(daemon.home)
