"""``codex-runner jobs`` against the real API (``create_app`` with the job routes) over a real
TaskService and JobService: in-memory store, scripted Codex, real job processes, served by
uvicorn in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from codex_runner.api.app import create_app
from codex_runner.api.routes_jobs import job_routes
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.config.jobs import JobSettings
from codex_runner.domain.jobs import JobState
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.http.wire_jobs import JobOut
from codex_runner.service.event_bus import EventBus
from codex_runner.service.jobs import TASK_KEY_HEADER, JobService, TaskKeys
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from ..service.waiting import wait_state
from .conftest import TOKEN, CliRun, make_cli, make_home

WAIT_S = 10.0
SESSION_KEY = "sk_chat-session-helper-key"


@dataclass
class Live:
    url: str
    loop: asyncio.AbstractEventLoop
    task_id: str
    jobs: JobService

    def job(self, job_id: str, *states: JobState) -> JobOut:
        async def until() -> JobOut:
            async with asyncio.timeout(WAIT_S):
                while (job := await self.jobs.job(job_id)).state not in states:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)  # a real process ends on its own time
            return JobOut.of(job)

        return asyncio.run_coroutine_threadsafe(until(), self.loop).result(WAIT_S + 1)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    work = tmp_path / "work"
    work.mkdir()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    started = threading.Event()
    parts: dict[str, Any] = {}

    async def serve() -> None:
        store = InMemoryStore()
        workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
        service = TaskService(
            store,
            ScriptedRuntime(lambda _: complete),
            workspaces,
            EventBus(),
            max_concurrent=2,
            approval_timeout_s=30.0,
        )
        jobs = JobService(
            store,
            service,
            workspaces,
            JobSettings(check_interval_s=0.05, kill_grace_s=1.0),
            jobs_dir=tmp_path / "jobs",
            host_id="h1",
            environment=lambda: {"PATH": os.environ["PATH"]},
            clock=lambda: datetime.now(UTC),
        )
        await service.start()
        await jobs.start()
        task = await service.submit("go", WorkspaceRequest.directory(str(work)))
        await wait_state(service, task.id, TaskState.COMPLETED)
        routers = job_routes(
            jobs,
            token=TOKEN,
            keys=TaskKeys(TOKEN.encode()),
            session_task=lambda key: task.id if key == SESSION_KEY else None,
        )
        app = create_app(service, token=TOKEN, ready=lambda: True, routers=routers)
        server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
        parts.update(loop=asyncio.get_running_loop(), server=server, jobs=jobs, task=task.id)
        started.set()
        try:
            await server.serve(sockets=[sock])
        finally:
            for job in await jobs.jobs():
                if job.state.is_active:
                    await jobs.cancel(job.id)
            await jobs.stop()
            await service.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="live-daemon")
    thread.daemon = True
    thread.start()
    assert started.wait(WAIT_S), "the daemon did not start"
    try:
        yield Live(
            f"http://127.0.0.1:{sock.getsockname()[1]}", parts["loop"], parts["task"], parts["jobs"]
        )
    finally:
        parts["loop"].call_soon_threadsafe(setattr, parts["server"], "should_exit", True)
        thread.join(WAIT_S + 5)
        sock.close()
        assert not thread.is_alive(), "the daemon did not stop"


@pytest.fixture
def cli(live: Live, tmp_path: Path) -> CliRun:
    return make_cli(make_home(tmp_path / "home", url=live.url))


def test_jobs_start_list_logs_and_cancel(cli: CliRun, live: Live) -> None:
    started = cli(
        "jobs", "start", "--task", live.task_id, "--name", "check", "--json", "--",
        "sh", "-c", "echo checking $0; exit 4", "here",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    job = JobOut.model_validate_json(started.stdout)
    assert job.command == ["sh", "-c", "echo checking $0; exit 4", "here"]
    assert live.job(job.id, JobState.FAILED).exit_code == 4

    listed = cli("jobs", "list", "--task", live.task_id)
    assert listed.exit_code == 0, listed.output
    assert [job.id, live.task_id, "failed", "4"] == listed.stdout.splitlines()[1].split()[:4]
    logs = cli("jobs", "logs", job.id)
    assert (logs.exit_code, logs.stdout) == (0, "checking here\n")

    sleeper = cli("jobs", "start", "--task", live.task_id, "--", "sleep", "30")
    assert sleeper.exit_code == 0, sleeper.output
    sleeper_id = sleeper.stdout.split()[1]
    cancelled = cli("jobs", "cancel", sleeper_id)
    assert cancelled.exit_code == 0 and f"job {sleeper_id} cancelled" in cancelled.stdout
    again = cli("jobs", "cancel", sleeper_id)
    assert again.exit_code == 1 and "cancelled already" in again.output

    missing = cli("jobs", "start", "--task", live.task_id)
    assert missing.exit_code == 2 and "give the command after --" in missing.output


def test_a_task_key_starts_and_lists_its_own_tasks_jobs_only(live: Live) -> None:
    key = TaskKeys(TOKEN.encode()).key(live.task_id)
    body = {"task_id": live.task_id, "command": "echo keyed"}
    with httpx.Client(base_url=live.url, timeout=WAIT_S) as client:
        started = client.post("/v1/jobs", json=body, headers={TASK_KEY_HEADER: key})
        assert started.status_code == 201, started.text
        listed = client.get(
            "/v1/jobs", params={"task_id": live.task_id}, headers={TASK_KEY_HEADER: key}
        )
        assert [j["id"] for j in listed.json()["jobs"]] == [started.json()["id"]]

        other = client.post(
            "/v1/jobs", json={**body, "task_id": "t_other"}, headers={TASK_KEY_HEADER: key}
        )
        assert other.status_code == 403
        assert client.get("/v1/jobs", headers={TASK_KEY_HEADER: key}).status_code == 403
        assert client.post("/v1/jobs", json=body).status_code == 401
        one = client.get(f"/v1/jobs/{started.json()['id']}", headers={TASK_KEY_HEADER: key})
        assert one.status_code == 401  # the rest of the API wants the API token


def test_a_chat_sessions_helper_key_starts_jobs_for_its_own_task(live: Live) -> None:
    own = {"X-Codex-Runner-Session": SESSION_KEY}
    with httpx.Client(base_url=live.url, timeout=WAIT_S) as client:
        started = client.post("/v1/jobs", json={"command": ["true"]}, headers=own)
        assert started.status_code == 201, started.text
        assert started.json()["task_id"] == live.task_id
        listed = client.get("/v1/jobs", headers=own).json()["jobs"]
        assert [j["id"] for j in listed] == [started.json()["id"]]

        other = client.post("/v1/jobs", json={"task_id": "t_other", "command": "true"}, headers=own)
        assert other.status_code == 403
        unknown = {"X-Codex-Runner-Session": "sk_unknown"}
        assert client.get("/v1/jobs", headers=unknown).status_code == 403
        no_task = client.post(
            "/v1/jobs", json={"command": "true"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert no_task.status_code == 422 and "task_id is missing" in no_task.text


def test_jobs_key_prints_the_key_the_routes_take_for_that_task(cli: CliRun, live: Live) -> None:
    printed = cli("jobs", "key", "--task", live.task_id)

    assert printed.exit_code == 0, printed.output
    assert printed.stdout.strip() == TaskKeys(TOKEN.encode()).key(live.task_id)
    assert cli("jobs", "key", "--task", "t_short").exit_code == 2
