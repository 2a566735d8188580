"""Background jobs: real processes in a task's directory, the real SQLite store and the task
service on a scripted Codex; a job reports back to its task as a follow-up message."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, complete, gated
from codex_runner.config.jobs import JobSettings
from codex_runner.domain.durable_event import EventType
from codex_runner.domain.jobs import Job, JobState
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.runner_home.processes import pid_alive
from codex_runner.service.event_bus import EventBus
from codex_runner.service.jobs import JobRefused, JobRequest, JobService, TaskKeys
from codex_runner.service.jobs_process import group_alive
from codex_runner.service.tasks import TaskService
from codex_runner.store.sql import SqlStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .waiting import wait_state

HOST = "host-a"


def now() -> datetime:
    return datetime.now(UTC)


class Setup:
    def __init__(self, tmp: Path, store: SqlStore, **settings: Any) -> None:
        self.tmp = tmp
        self.store = store
        self.work = tmp / "work"
        self.work.mkdir(exist_ok=True)
        self.runtime = ScriptedRuntime(lambda p: gated if p.startswith("hold") else complete)
        self.workspaces = InMemoryWorkspaces(tmp / "worktrees")
        self.service = TaskService(
            store,
            self.runtime,
            self.workspaces,
            EventBus(),
            max_concurrent=2,
            approval_timeout_s=5.0,
        )
        self.settings = JobSettings(check_interval_s=0.05, kill_grace_s=1.0, **settings)
        self.jobs = self.job_service()

    def job_service(self) -> JobService:
        return JobService(
            self.store,
            self.service,
            self.workspaces,
            self.settings,
            jobs_dir=self.tmp / "logs" / "jobs",
            host_id=HOST,
            environment=lambda: {"PATH": os.environ["PATH"], "SECRET_OF_THE_DAEMON": ""},
            clock=now,
        )

    async def task(self, prompt: str = "do it") -> str:
        task = await self.service.submit(prompt, WorkspaceRequest.directory(str(self.work)))
        state = TaskState.RUNNING if prompt.startswith("hold") else TaskState.COMPLETED
        await wait_state(self.service, task.id, state)
        return task.id

    async def start(self, task_id: str, command: str | list[str], **kw: Any) -> Job:
        return await self.jobs.start_job(JobRequest(task_id, command, **kw))

    async def until(self, job_id: str, *states: JobState, timeout: float = 10) -> Job:
        async with asyncio.timeout(timeout):
            # Real processes end on their own time: no event to wait on.
            while (job := await self.jobs.job(job_id)).state not in states:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return job

    async def messages(self, task_id: str) -> list[str]:
        events = await self.store.read_events(task_id)
        return [
            str(e.data.get("text"))
            for e in events
            if e.type == EventType.TASK_MESSAGE_RECEIVED.value
        ]

    async def reported(self, task_id: str, timeout: float = 10) -> str:
        async with asyncio.timeout(timeout):
            while not (found := await self.messages(task_id)):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return found[0]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(tmp_path / "runner.sqlite")
    yield opened
    await opened.close()


@pytest.fixture
async def setup(tmp_path: Path, store: SqlStore) -> AsyncIterator[Setup]:
    s = Setup(tmp_path, store)
    await s.service.start()
    await s.jobs.start()
    yield s
    for job in await s.jobs.jobs():
        if job.state.is_active:
            await s.jobs.cancel(job.id)
    await s.jobs.stop()
    s.runtime.gate.set()
    await s.service.stop()


async def test_a_job_outlives_its_turn_and_reports_back_once_the_turn_ends(setup: Setup) -> None:
    task_id = await setup.task("hold the turn")
    job = await setup.start(task_id, "echo first; echo last line", name="build")

    assert job.state is JobState.RUNNING and job.pgid == job.pid
    ended = await setup.until(job.id, JobState.SUCCEEDED)
    assert ended.exit_code == 0 and ended.reported_at is None  # its task is in a turn
    assert await setup.messages(task_id) == []

    setup.runtime.gate.set()
    report = await setup.reported(task_id)
    assert f"Background job {job.id} (build) succeeded" in report
    assert "first\nlast line" in report
    assert (await setup.jobs.job(job.id)).reported_at is not None
    assert (setup.work / ".").exists()


async def test_a_failing_job_reports_its_exit_code_and_runs_in_the_task_directory(
    setup: Setup,
) -> None:
    told: list[str] = []

    async def relay(task_id: str) -> None:
        told.append(task_id)

    setup.jobs.supervisor.on_reported.append(relay)
    task_id = await setup.task()
    job = await setup.start(task_id, ["sh", "-c", "pwd; echo $SECRET_OF_THE_DAEMON; exit 3"])

    ended = await setup.until(job.id, JobState.FAILED)
    assert (ended.exit_code, ended.reason) == (3, "exit code 3")
    report = await setup.reported(task_id)
    assert "failed with exit code 3" in report and str(setup.work.resolve()) in report
    events = [e.type for e in await setup.store.read_events(task_id)]
    assert "job.started" in events and "job.finished" in events
    assert told == [task_id]  # a chat bridge relays the turn the report queued


async def test_a_job_past_its_runtime_cap_is_stopped_with_its_group(setup: Setup) -> None:
    task_id = await setup.task()
    job = await setup.start(task_id, "sleep 30 & sleep 30; wait", max_runtime_s=0.3)

    ended = await setup.until(job.id, JobState.TIMED_OUT)

    assert ended.reason == "it ran past its cap of 0.3 s"
    assert job.pgid is not None and not group_alive(job.pgid)
    assert "timed out: it ran past its cap" in await setup.reported(task_id)


async def test_cancelling_the_task_kills_the_jobs_process_group(setup: Setup) -> None:
    task_id = await setup.task("hold the turn")
    job = await setup.start(task_id, "sleep 30 & sleep 30; wait")
    assert job.pgid is not None and group_alive(job.pgid)

    await setup.service.cancel(task_id)

    ended = await setup.until(job.id, JobState.CANCELLED)
    assert ended.reason == "its task was cancelled"
    assert not group_alive(job.pgid)
    assert await setup.messages(task_id) == []  # a cancelled task takes no follow-up


async def test_cancelling_a_job_stops_it_and_a_second_cancel_is_refused(setup: Setup) -> None:
    task_id = await setup.task()
    job = await setup.start(task_id, "sleep 30")

    cancelled = await setup.jobs.cancel(job.id)

    assert cancelled.state is JobState.CANCELLED and job.pid is not None
    assert not group_alive(job.pid)
    with pytest.raises(JobRefused, match="cancelled already"):
        await setup.jobs.cancel(job.id)


async def test_output_past_the_cap_is_cut_with_a_note_and_the_job_keeps_running(
    tmp_path: Path, store: SqlStore
) -> None:
    s = Setup(tmp_path, store, output_max_bytes=1024)
    await s.service.start()
    await s.jobs.start()
    try:
        task_id = await s.task()
        command = "head -c 5000 /dev/zero | tr '\\0' x; echo; echo kept > alive.txt"
        job = await s.start(task_id, command)
        await s.until(job.id, JobState.SUCCEEDED)
        output = s.jobs.supervisor.files(job.id).output.read_text()
        assert output.startswith("x" * 1024) and "x" * 1025 not in output
        assert "output cut at 1024 bytes; the job keeps running" in output
        assert (s.work / "alive.txt").read_text() == "kept\n"
    finally:
        await s.jobs.stop()
        await s.service.stop()


async def test_starts_over_the_caps_are_refused(tmp_path: Path, store: SqlStore) -> None:
    s = Setup(tmp_path, store, max_per_task=1, max_running=2)
    await s.service.start()
    await s.jobs.start()
    try:
        first, second = await s.task(), await s.task()
        a = await s.start(first, "sleep 30")
        with pytest.raises(JobRefused, match="max_per_task"):
            await s.start(first, "sleep 30")
        b = await s.start(second, "sleep 30")
        third = await s.task()
        with pytest.raises(JobRefused, match="max_running"):
            await s.start(third, "sleep 30")
        with pytest.raises(ValueError, match="max_runtime_s"):
            await s.start(third, "true", max_runtime_s=10 * 3600)
        for job in (a, b):
            await s.jobs.cancel(job.id)
    finally:
        await s.jobs.stop()
        await s.service.stop()


async def test_secrets_in_the_output_are_masked_in_the_report_and_the_tail(setup: Setup) -> None:
    task_id = await setup.task()
    secret = "sk-proj-abcdefghijklmnop0123456789"
    job = await setup.start(task_id, f"echo using {secret}")

    report = await setup.reported(task_id)

    assert secret not in report and "using [redacted]" in report
    assert secret not in await setup.jobs.output(job.id)


async def _dead_pid() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


async def test_at_start_a_gone_job_fails_unless_restartable_then_it_runs_once_more(
    tmp_path: Path, store: SqlStore
) -> None:
    s = Setup(tmp_path, store)
    await s.service.start()
    try:
        task_id = await s.task()
        gone = await _dead_pid()
        base = Job(
            id="j_gone",
            task_id=task_id,
            command=("sh", "-c", "echo again"),
            name="again",
            host_id=HOST,
            created_at=now(),
            max_runtime_s=60,
            state=JobState.RUNNING,
            pid=gone,
            pgid=gone,
            started_at=now(),
        )
        await store.add_job(base)
        await store.add_job(replace(base, id="j_rerun", restartable=True))
        await store.add_job(replace(base, id="j_twice", restartable=True, restarts=1))
        await store.add_job(replace(base, id="j_elsewhere", host_id="host-b"))
        stranger = await asyncio.create_subprocess_exec("sleep", "30")  # took a job's pid
        await store.add_job(replace(base, id="j_reused", pid=stranger.pid, pgid=stranger.pid))

        try:
            await s.jobs.start()
        finally:
            stranger.kill()
            await stranger.wait()

        failed = await s.jobs.job("j_gone")
        assert failed.state is JobState.FAILED
        assert (
            failed.reason == "its process was gone after a daemon restart and it is not restartable"
        )
        rerun = await s.until("j_rerun", JobState.SUCCEEDED)
        assert rerun.restarts == 1
        twice = await s.jobs.job("j_twice")
        assert twice.state is JobState.FAILED and "re-run once already" in (twice.reason or "")
        assert (await s.jobs.job("j_elsewhere")).state is JobState.RUNNING  # not this host's
        assert (await s.jobs.job("j_reused")).state is JobState.FAILED  # not adopted
    finally:
        await s.jobs.stop()
        await s.service.stop()


async def test_a_job_still_running_when_supervision_stops_is_adopted_by_the_next(
    tmp_path: Path, store: SqlStore
) -> None:
    s = Setup(tmp_path, store)
    await s.service.start()
    await s.jobs.start()
    try:
        task_id = await s.task()
        os.mkfifo(s.work / "go")
        job = await s.start(task_id, "echo before; read line < ./go; echo after")
        await s.jobs.stop()  # the daemon going away: the job keeps running
        assert job.pid is not None and pid_alive(job.pid)

        s.jobs = s.job_service()
        await s.jobs.start()
        adopted = await s.jobs.job(job.id)
        assert adopted.state is JobState.RUNNING, adopted.reason
        (s.work / "go").write_text("now\n")

        assert (await s.until(job.id, JobState.SUCCEEDED)).exit_code == 0
        assert "before\nafter" in await s.reported(task_id)
    finally:
        await s.jobs.stop()
        await s.service.stop()


def test_a_task_key_opens_its_own_task_only() -> None:
    keys = TaskKeys(b"api-token")

    key = keys.key("t_1")

    assert keys.opens(key, "t_1") and not keys.opens(key, "t_2")
    assert not keys.opens(None, "t_1") and not keys.opens("tk_wrong", "t_1")
    assert TaskKeys(b"other").key("t_1") != key


async def test_finished_jobs_folders_go_after_keep_s_and_active_ones_stay(
    tmp_path: Path, store: SqlStore
) -> None:
    s = Setup(tmp_path, store, keep_s=3600)
    await s.service.start()
    await s.jobs.start()
    try:
        task_id = await s.task()
        running = await s.start(task_id, "sleep 30")
        ended = await s.start(task_id, "echo done")
        await s.until(ended.id, JobState.SUCCEEDED)
        old = time.time() - 7200
        for job in (running, ended):
            for path in s.jobs.supervisor.files(job.id).root.iterdir():
                os.utime(path, (old, old))

        assert await s.jobs.supervisor.remove_old_folders() == 1

        assert not s.jobs.supervisor.files(ended.id).root.exists()
        assert s.jobs.supervisor.files(running.id).output.parent.is_dir()
        assert (await s.jobs.job(ended.id)).state is JobState.SUCCEEDED  # the record stays
        await s.jobs.cancel(running.id)
    finally:
        await s.jobs.stop()
        await s.service.stop()
