"""Warm threads against the real codex binary: a follow-up on a thread kept loaded after its
turn sends no ``thread/resume`` (the RPC log shows it), one past the idle window does, and
the count bound holds when three times as many tasks finish."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from .conftest import StartDaemon
from .harness import TERMINAL, Daemon, wait_state


def _requests(daemon: Daemon, method: str) -> list[dict[str, Any]]:
    """The requests of ``method`` the runner sent Codex, from the RPC log."""
    files = sorted((daemon.home / "logs" / "raw" / "codex-rpc").glob("*.jsonl"))
    lines = [line for f in files for line in f.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    return [e["msg"] for e in entries if e["msg"].get("method") == method and "id" in e["msg"]]


def _on_thread(requests: list[dict[str, Any]], thread_id: str) -> int:
    return sum(1 for r in requests if r.get("params", {}).get("threadId") == thread_id)


async def _finished_task(client: httpx.AsyncClient, repo: Path, prompt: str) -> dict[str, Any]:
    task = (await client.post("/v1/tasks", json={"prompt": prompt, "repo": str(repo)})).json()
    done = await wait_state(client, task["id"], TERMINAL)
    assert done["state"] == "completed", done
    return done


async def _follow_up(client: httpx.AsyncClient, task_id: str, prompt: str) -> dict[str, Any]:
    response = await client.post(f"/v1/tasks/{task_id}/message", json={"prompt": prompt})
    assert response.status_code == 200, response.text
    done = await wait_state(client, task_id, TERMINAL)
    assert done["state"] == "completed", done
    return done


async def test_a_follow_up_on_a_warm_thread_sends_no_thread_resume(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"rpc_log": True})
    async with daemon.client() as client:
        task = await _finished_task(client, repo, "quick one")
        done = await _follow_up(client, task["id"], "quick two")
        assert done["thread_id"] == task["thread_id"]
        assert done["final_message"] == "quick done"
    assert _on_thread(_requests(daemon, "thread/resume"), task["thread_id"]) == 0
    assert _on_thread(_requests(daemon, "thread/unsubscribe"), task["thread_id"]) == 0


async def test_a_follow_up_past_the_idle_window_resumes_the_thread(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"rpc_log": True, "warm_thread_idle_s": 0.2})
    async with daemon.client() as client:
        task = await _finished_task(client, repo, "quick one")
        thread = task["thread_id"]
        # The idle timer releases the thread on its own; wait (bounded) until it has.
        async with asyncio.timeout(30):
            while True:
                if _on_thread(_requests(daemon, "thread/unsubscribe"), thread):
                    break
                await asyncio.sleep(0.05)  # polling a file the daemon writes: no event here
        done = await _follow_up(client, task["id"], "quick two")
        assert done["thread_id"] == thread
    assert _on_thread(_requests(daemon, "thread/resume"), thread) == 1


async def test_the_warm_thread_bound_holds_under_three_times_its_size_of_tasks(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"rpc_log": True, "warm_threads": 2})
    async with daemon.client() as client:
        tasks = [await _finished_task(client, repo, f"quick {i}") for i in range(6)]
    threads = [t["thread_id"] for t in tasks]
    assert len(set(threads)) == 6
    unsubscribed = _requests(daemon, "thread/unsubscribe")
    released = [t for t in threads if _on_thread(unsubscribed, t)]
    # Least recently used first: the four oldest are released, the two newest stay loaded.
    assert released == threads[:4]
    assert all(_on_thread(unsubscribed, t) == 1 for t in released)
