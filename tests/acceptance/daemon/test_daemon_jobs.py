"""A background job against a real daemon, driven by the CLI: started from a finished task,
still running across a daemon restart (adopted by the new daemon), and reported back to the
task as a follow-up once it ends."""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer
from codex_runner.runner_home.processes import pid_alive

from .harness import Daemon, all_events, wait_state, write_config

pytestmark = pytest.mark.acceptance


def release(fifo: Path) -> None:
    """Let the job past its ``read < fifo`` (it is waiting there: a reader is open)."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"go\n")
    finally:
        os.close(fd)


async def reported(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """The job once its task was told it ended."""
    async with asyncio.timeout(60):
        # Another process's job: there is no event to wait on.
        while (job := (await client.get(f"/v1/jobs/{job_id}")).json())["reported_at"] is None:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return dict(job)


async def test_a_job_runs_across_a_daemon_restart_and_reports_back(
    tmp_path: Path, daemon_model: MockModelServer
) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    os.mkfifo(work / "go")
    write_config(home, daemon_model, service={}, codex={"approval_policy": "never"})
    config = tomllib.loads((home / "config.toml").read_text())
    config["jobs"] = {"check_interval_s": 0.1}
    (home / "config.toml").write_text(tomli_w.dumps(config))
    daemon = Daemon(home)
    try:
        await daemon.start()
        async with daemon.client() as client:
            created = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(work)})
            task_id = created.json()["id"]
            await wait_state(client, task_id, {"completed"})

        code, out, err = await daemon.cli(
            "jobs", "start", "--task", task_id, "--name", "quick build", "--json", "--",
            "sh", "-c", "echo before; read line < go; echo after $line",
        )  # fmt: skip
        assert code == 0, err
        job = json.loads(out)
        assert job["state"] == "running" and job["command"][0] == "sh"

        daemon.stop()  # the job runs in a session of its own: the daemon's stop spares it
        assert pid_alive(job["pid"])
        await daemon.start()

        code, out, err = await daemon.cli("jobs", "list", "--task", task_id)
        assert code == 0, err
        assert job["id"] in out and "running" in out
        release(work / "go")

        async with daemon.client() as client:
            ended = await reported(client, job["id"])
            assert (ended["state"], ended["exit_code"]) == ("succeeded", 0)
            await wait_state(client, task_id, {"completed"})
            events = await all_events(client, task_id)
        messages = [e["data"]["text"] for e in events if e["type"] == "task.message_received"]
        assert len(messages) == 1
        assert f"Background job {job['id']} (quick build) succeeded" in messages[0]
        assert "before\nafter go" in messages[0]
        assert [e["type"] for e in events].count("job.finished") == 1

        code, out, err = await daemon.cli("jobs", "logs", job["id"])
        assert code == 0, err
        assert out == "before\nafter go\n"
    finally:
        daemon.stop()
