"""The daemon's SQLite store locked by another process: briefly, and past the busy timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex_runner.store.sql import DEFAULT_BUSY_TIMEOUT_S

from ..acceptance.daemon.harness import TERMINAL, wait_event, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost
from .store_lock import StoreLock

# The long case's own busy timeout ([service] store_busy_timeout_s): past it, a 503.
BUSY_TIMEOUT_S = 2.0

pytestmark = pytest.mark.acceptance


async def test_a_store_locked_briefly_makes_requests_late_not_failed(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        running = (
            await client.post("/v1/tasks", json={"prompt": "long job", "cwd": str(repo)})
        ).json()
        await wait_event(client, running["id"], "codex.turn.started")
        with StoreLock(daemon.home / "runner.sqlite") as lock:
            submit = asyncio.create_task(
                client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})
            )
            # The submit waits for the lock (well under the busy timeout), then gets through.
            done, _ = await asyncio.wait({submit}, timeout=1)
            assert not done, "a submit got through a locked store"
            lock.release()
            response = await asyncio.wait_for(submit, DEFAULT_BUSY_TIMEOUT_S)
        assert response.status_code == 201, response.text
        late = response.json()
        for task in (running, late):
            assert (await wait_state(client, task["id"], TERMINAL))["state"] == "completed"
        await assert_nothing_lost(client, [running["id"], late["id"]])
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_a_store_locked_past_the_busy_timeout_is_a_503_with_retry_after_and_loses_nothing(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"store_busy_timeout_s": BUSY_TIMEOUT_S})
    async with daemon.client() as client:
        before = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        assert (await wait_state(client, before["id"], TERMINAL))["state"] == "completed"
        with StoreLock(daemon.home / "runner.sqlite"):
            refused = await client.post(
                "/v1/tasks",
                json={"prompt": "quick", "cwd": str(repo)},
                timeout=BUSY_TIMEOUT_S + 30,
            )
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) > 0
            assert "the store is busy" in refused.json()["error"]["message"]
            # Reads go on: SQLite in WAL mode lets readers past a writer's lock.
            assert (await client.get(f"/v1/tasks/{before['id']}")).status_code == 200
        after = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})
        assert after.status_code == 201, after.text
        assert (await wait_state(client, after.json()["id"], TERMINAL))["state"] == "completed"
        listed = (await client.get("/v1/tasks")).json()["tasks"]
        # The refused submit left nothing behind.
        assert sorted(task["id"] for task in listed) == sorted([before["id"], after.json()["id"]])
        await assert_nothing_lost(client, [before["id"], after.json()["id"]])
        assert (await client.get("/readyz")).status_code == 200
    daemon.stop()
    assert_no_run_files(daemon.home)
