"""TaskWriter: the writes the runner makes on a task it has just started."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.domain.transitions import Action
from codex_runner.service.event_bus import EventBus
from codex_runner.service.writer import Abandoned, TaskWriter
from codex_runner.store.memory import InMemoryStore

NOW = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)


async def started_task() -> tuple[TaskWriter, InMemoryStore, Task]:
    """A task started again for a follow-up message ("next")."""
    store = InMemoryStore()
    writer = TaskWriter(store, EventBus(), sink=None, clock=lambda: NOW)
    task = Task("t1", "do it", WorkspaceRequest.directory("/tmp"), NOW, NOW)
    await store.create_task(task)
    task = await writer.transition(task, Action.START)
    task = await writer.transition(task, Action.COMPLETE, reason="turn completed")
    task = await writer.transition(task, Action.MESSAGE, pending_message="next")
    return writer, store, await writer.transition(task, Action.START)


async def test_save_run_writes_the_fields_onto_the_started_task() -> None:
    writer, store, started = await started_task()

    saved = await writer.save_run(started, thread_id="th1", pending_message=None)

    stored = await store.get_task("t1")
    assert stored == saved
    assert stored is not None
    assert stored.thread_id == "th1"
    assert stored.pending_message is None
    assert stored.state is TaskState.RUNNING


async def test_save_run_on_a_task_cancelled_since_it_started_abandons_and_writes_nothing() -> None:
    writer, store, started = await started_task()
    cancelled = await writer.transition(started, Action.CANCEL, reason="cancelled by request")

    with pytest.raises(Abandoned):
        await writer.save_run(
            started, thread=ThreadRecord("th1", "t1", NOW), thread_id="th1", pending_message=None
        )

    assert await store.get_task("t1") == cancelled
    assert cancelled.pending_message == "next"
    assert await store.find_task_by_thread("th1") is None


async def test_save_run_records_a_new_thread_with_the_task_that_uses_it() -> None:
    writer, store, started = await started_task()

    saved = await writer.save_run(started, thread=ThreadRecord("th2", "t1", NOW), thread_id="th2")

    assert await store.find_task_by_thread("th2") == saved
