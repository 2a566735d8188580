"""Crashes: the daemon killed mid-turn, and a task that kills Codex every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.logs import LogLayout, LogQuery, read

from .conftest import StartDaemon
from .harness import TERMINAL, all_events, wait_event, wait_state

pytestmark = pytest.mark.acceptance


async def test_kill_9_mid_turn_then_restart_reconciles_and_resume_completes_gaplessly(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "slow", "repo": str(repo)})).json()
        await wait_event(client, task["id"], "codex.turn.started")
    daemon.kill9()
    await daemon.start()
    async with daemon.client() as client:
        reconciled = (await client.get(f"/v1/tasks/{task['id']}")).json()
        assert reconciled["state"] == "interrupted"
        assert "restarted" in reconciled["reason"]
        assert (daemon.home / "worktrees" / task["id"]).is_dir()
        events = await all_events(client, task["id"])
        assert "task.reconciled" in [e["type"] for e in events]
        thread = reconciled["thread_id"]
        response = await client.post(
            f"/v1/tasks/{task['id']}/resume", json={"prompt": "what did I say"}
        )
        assert response.status_code == 200, response.text
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        assert done["thread_id"] == thread
        events = await all_events(client, task["id"])
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless, no duplicates
    # Each start logs how long its steps took.
    log = read(LogLayout(daemon.home / "logs"), LogQuery(limit=100_000))
    starts = [r for r in log if r["message"].startswith("daemon ready in")]
    assert len(starts) == 2
    steps = starts[-1]["fields"]
    assert set(steps) == {"imports_s", "store_s", "reconcile_s", "codex_s", "http_s", "total_s"}
    assert 0 < steps["reconcile_s"] < steps["total_s"] and steps["imports_s"] > 0


async def test_a_poison_task_fails_after_bounded_attempts_while_others_complete(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(codex={"sandbox": "danger-full-access"})
    async with daemon.client() as client:
        poison = (
            await client.post("/v1/tasks", json={"prompt": "poison", "cwd": str(repo)})
        ).json()
        good = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        failed = await wait_state(client, poison["id"], TERMINAL, timeout=180)
        assert failed["state"] == "failed", failed
        # Its first crash makes it a suspect (it may have run beside the other task); run
        # as the one suspect from then on, three more crashes end it.
        assert failed["attempts"] == 4
        assert failed["reason"] == "codex crashed on this task 3 times"
        assert (await wait_state(client, good["id"], TERMINAL))["state"] == "completed"
        after = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        assert (await wait_state(client, after["id"], TERMINAL))["state"] == "completed"
        status = (await client.get("/v1/status")).json()
        assert status["runtime"]["restarts"] >= 3


async def test_an_exec_runtime_task_keeps_its_codex_thread_across_a_restart(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon(codex={"runtime": "exec"})
    async with daemon.client() as client:
        body = {"prompt": "hello from before", "cwd": str(tmp_path)}
        task = (await client.post("/v1/tasks", json=body)).json()
        first = await wait_state(client, task["id"], TERMINAL)
        assert first["state"] == "completed", first
        # Codex's own thread id, not the runtime's provisional one: it resumes after a restart.
        assert not first["thread_id"].startswith("exec-")
    daemon.stop()
    await daemon.start()
    async with daemon.client() as client:
        response = await client.post(
            f"/v1/tasks/{task['id']}/message", json={"prompt": "what did I say"}
        )
        assert response.status_code == 200, response.text
        done = await wait_state(client, task["id"], TERMINAL)
    assert done["state"] == "completed", done
    assert done["thread_id"] == first["thread_id"]
    assert "hello from before" in (done["final_message"] or "")
