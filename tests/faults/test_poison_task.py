"""A poison task (it kills Codex on every attempt) beside healthy ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..acceptance.daemon.harness import TERMINAL, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance

HEALTHY = ["quick", "write notes", "hello", "create a file"]


async def test_a_poison_task_fails_with_a_bounded_count_and_the_healthy_tasks_beside_it_complete(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        poison = (
            await client.post("/v1/tasks", json={"prompt": "poison", "cwd": str(repo)})
        ).json()
        healthy = []
        for n, prompt in enumerate(HEALTHY):
            workdir = tmp_path / f"work-{n}"
            workdir.mkdir()
            body = {"prompt": prompt, "cwd": str(workdir)}
            healthy.append((await client.post("/v1/tasks", json=body)).json())
        for task in healthy:
            done = await wait_state(client, task["id"], TERMINAL, timeout=100)
            assert done["state"] == "completed", done
        failed = await wait_state(client, poison["id"], TERMINAL, timeout=100)
        assert failed["state"] == "failed", failed
        assert "crashed" in failed["reason"], failed
        assert (tmp_path / "work-1" / "notes.txt").read_text() == "notes\n"
        await assert_nothing_lost(client, [poison["id"], *(task["id"] for task in healthy)])
    daemon.stop()
    assert_no_run_files(daemon.home)
