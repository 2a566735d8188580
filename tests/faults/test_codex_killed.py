"""Codex's app-server killed with SIGKILL under the daemon, mid-turn and mid-approval."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from ..acceptance.daemon.harness import TERMINAL, wait_event, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance


def kill_app_server(home: Path) -> int:
    """SIGKILL the daemon's one Codex child (named by its pid file); its pid."""
    (pid_file,) = (home / "run").glob("codex-*.json")
    pid = int(json.loads(pid_file.read_text())["pid"])
    os.kill(pid, signal.SIGKILL)
    return pid


async def restarts(client: httpx.AsyncClient) -> int:
    return int((await client.get("/v1/status")).json()["runtime"]["restarts"])


async def test_codex_killed_mid_turn_is_restarted_and_the_turn_continues_on_its_thread(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "slow", "repo": str(repo)})).json()
        await wait_event(client, task["id"], "codex.turn.started")
        thread = (await client.get(f"/v1/tasks/{task['id']}")).json()["thread_id"]
        kill_app_server(daemon.home)
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        assert done["thread_id"] == thread
        assert await restarts(client) >= 1
        # A new task runs on the restarted Codex.
        after = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        assert (await wait_state(client, after["id"], TERMINAL))["state"] == "completed"
        await assert_nothing_lost(client, [task["id"], after["id"]])
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_codex_killed_with_an_approval_pending_closes_the_approval_and_the_task_goes_on(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    async with daemon.client() as client:
        task = (
            await client.post("/v1/tasks", json={"prompt": "touch approved", "repo": str(repo)})
        ).json()
        await wait_state(client, task["id"], {"awaiting_approval"})
        (approval,) = (await client.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
        kill_app_server(daemon.home)
        # The crashed turn is retried on its thread; the question it asked expired with it.
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        # The Codex that asked is gone: its approval can no longer be answered.
        stale = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        assert stale.status_code == 409, stale.text
        assert not (daemon.home / "worktrees" / task["id"] / "approved.txt").exists()
        assert await restarts(client) >= 1
        events = (await assert_nothing_lost(client, [task["id"]]))[task["id"]]
        assert "approval.expired" in [event["type"] for event in events]
    daemon.stop()
    assert_no_run_files(daemon.home)
