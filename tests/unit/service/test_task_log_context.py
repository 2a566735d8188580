"""What a task's run logs is about that task: the records carry its id (so the layered logs
copy them into the task's own stream, docs/logs.md)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, gated
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.logs.records import about
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore

from .waiting import wait_state


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), about(record)))


async def test_what_a_tasks_run_logs_names_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = ScriptedRuntime(lambda _: gated)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no turn today")

    monkeypatch.setattr(runtime, "start_turn", broken)
    service = TaskService(
        InMemoryStore(),
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=5,
    )
    kept = Kept()
    logger = logging.getLogger("codex_runner")
    logger.addHandler(kept)
    await service.start()
    try:
        task = await service.submit("hello", WorkspaceRequest.directory("/tmp"))
        await wait_state(service, task.id, TaskState.FAILED)
    finally:
        await service.stop()
        logger.removeHandler(kept)
    failure = [who for message, who in kept.seen if f"runner for task {task.id}" in message]
    assert failure == [{"task_id": task.id}], kept.seen
