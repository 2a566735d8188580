"""Waiting for a task's state on its event feed (no polling), shared by the service tests."""

from __future__ import annotations

import asyncio

from codex_runner.domain.task import TERMINAL_STATES, Task, TaskState
from codex_runner.service.tasks import TaskService


async def wait_state(
    service: TaskService, task_id: str, *states: TaskState, timeout: float = 5
) -> Task:
    """The task once it is in one of ``states``."""
    async with asyncio.timeout(timeout):
        task = await service.get(task_id)
        if task.state in states:
            return task
        async for _ in service.events(task_id):
            task = await service.get(task_id)
            if task.state in states:
                return task
    raise AssertionError("the event feed ended")


async def settled(service: TaskService, task_id: str) -> Task:
    """The task once it is completed, failed or cancelled."""
    return await wait_state(service, task_id, *TERMINAL_STATES)
