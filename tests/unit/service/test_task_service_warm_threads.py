"""The task service with warm threads: kept after a turn, released on cancel, gc and stop."""

from __future__ import annotations

from pathlib import Path

from codex_runner.codex.scripted import ScriptedRuntime, complete, gated
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .waiting import wait_state

WS = WorkspaceRequest.directory("/tmp")


def make(limit: int) -> tuple[TaskService, ScriptedRuntime]:
    runtime = ScriptedRuntime(lambda p: gated if p == "long job" else complete)
    warm = WarmThreadKeeper(runtime, limit=limit, idle_s=300)
    service = TaskService(
        InMemoryStore(),
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5.0,
        warm_threads=warm,
    )
    return service, runtime


async def test_a_finished_turn_keeps_its_thread_and_stop_releases_it() -> None:
    service, runtime = make(limit=4)
    await service.start()
    try:
        task = await service.submit("hello", WS)
        await wait_state(service, task.id, TaskState.COMPLETED)
        assert runtime.released == []
        assert "th1" in service.warm_threads
    finally:
        await service.stop()
    assert runtime.released == ["th1"]


async def test_cancelling_a_task_releases_its_warm_thread() -> None:
    service, runtime = make(limit=4)
    await service.start()
    try:
        task = await service.submit("long job", WS)
        await runtime.wait_started(1)
        await wait_state(service, task.id, TaskState.RUNNING)
        await service.interrupt(task.id)
        await wait_state(service, task.id, TaskState.INTERRUPTED)
        assert runtime.released == []
        await service.cancel(task.id)
        assert runtime.released == ["th1"]
        assert "th1" not in service.warm_threads
    finally:
        await service.stop()
    assert runtime.released == ["th1"]


async def test_without_warm_threads_each_thread_is_released_as_its_turn_ends() -> None:
    service, runtime = make(limit=0)
    await service.start()
    try:
        task = await service.submit("hello", WS)
        await wait_state(service, task.id, TaskState.COMPLETED)
        assert runtime.released == ["th1"]
    finally:
        await service.stop()


async def test_collecting_a_finished_tasks_worktree_releases_its_warm_thread(
    tmp_path: Path,
) -> None:
    runtime = ScriptedRuntime(lambda _: complete)
    workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
    repo = tmp_path / "repo"
    workspaces.add_repository(repo, {"HEAD": "a" * 40})
    service = TaskService(
        InMemoryStore(),
        runtime,
        workspaces,
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5.0,
        warm_threads=WarmThreadKeeper(runtime, limit=4, idle_s=300),
    )
    await service.start()
    try:
        task = await service.submit("hello", WorkspaceRequest.git(str(repo)))
        await wait_state(service, task.id, TaskState.COMPLETED)
        assert "th1" in service.warm_threads
        report = await service.gc(0, force=True)
        assert [w.task_id for w in report.removed] == [task.id]
        # No follow-up can run without the worktree: the thread is unloaded at once.
        assert runtime.released == ["th1"]
        assert "th1" not in service.warm_threads
    finally:
        await service.stop()
