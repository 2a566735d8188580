"""The daemon killed with SIGKILL mid-turn and mid-approval, then started again on its home."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.logs import LogLayout, LogQuery, read

from ..acceptance.daemon.harness import TERMINAL, wait_event, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_orphans, assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance


async def test_a_daemon_killed_mid_turn_leaves_the_task_interrupted_and_loses_nothing(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        running = (
            await client.post("/v1/tasks", json={"prompt": "slow", "repo": str(repo)})
        ).json()
        done = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        assert (await wait_state(client, done["id"], TERMINAL))["state"] == "completed"
        await wait_event(client, running["id"], "codex.turn.started")
    daemon.kill9()
    # Its Codex dies with it (it gets SIGTERM from the kernel, and EOF on its stdin).
    await assert_no_orphans(tmp_path)
    await daemon.start()
    async with daemon.client() as client:
        task = (await client.get(f"/v1/tasks/{running['id']}")).json()
        assert task["state"] == "interrupted", task
        assert "restart" in task["reason"]
        assert (await client.get(f"/v1/tasks/{done['id']}")).json()["state"] == "completed"
        await assert_nothing_lost(client, [running["id"], done["id"]])
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_a_daemon_killed_mid_approval_expires_the_approval_and_auto_resume_finishes_the_task(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon(
        service={"auto_resume": True}, codex={"approval_policy": "untrusted"}
    )
    async with daemon.client() as client:
        parked = (
            await client.post("/v1/tasks", json={"prompt": "touch approved", "repo": str(repo)})
        ).json()
        await wait_state(client, parked["id"], {"awaiting_approval"})
        (approval,) = (await client.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
    daemon.kill9()
    await assert_no_orphans(tmp_path)
    await daemon.start()
    async with daemon.client() as client:
        # The old approval is gone with the Codex that asked it: it cannot be answered.
        stale = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        assert stale.status_code == 409, stale.text
        # auto_resume re-queues the task on its thread, which goes on from where it was.
        done = await wait_state(client, parked["id"], TERMINAL)
        assert done["state"] == "completed", done
        assert (await client.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ] == []
        events = (await assert_nothing_lost(client, [parked["id"]]))[parked["id"]]
        types = [event["type"] for event in events]
        assert "task.reconciled" in types and "approval.expired" in types
    daemon.stop()
    # The task's log file has what reconciliation wrote too, in order.
    logged = read(LogLayout(daemon.home / "logs"), LogQuery(task=parked["id"], limit=100_000))
    expired = [e["seq"] for e in events if e["type"] == "approval.expired"]
    assert set(expired) <= {e["seq"] for e in logged}
    after_restart = [e["seq"] for e in logged if e["seq"] >= min(expired)]
    assert after_restart == sorted(after_restart)
    assert_no_run_files(daemon.home)
