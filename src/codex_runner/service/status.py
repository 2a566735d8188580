"""What the service reports about itself: its Codex runtime, its tasks by state, its limit."""

from __future__ import annotations

from dataclasses import dataclass

from codex_runner.codex.runtime import CodexRuntime, RuntimeStatus
from codex_runner.domain.task import ACTIVE_STATES, Task, TaskState
from codex_runner.store.protocol import Store


@dataclass(frozen=True)
class ServiceStatus:
    runtime: RuntimeStatus
    counts: dict[TaskState, int]
    active: tuple[Task, ...]  # running or awaiting approval
    max_concurrent: int


async def service_status(runtime: CodexRuntime, store: Store, max_concurrent: int) -> ServiceStatus:
    return ServiceStatus(
        runtime=runtime.status(),
        counts=await store.count_by_state(),
        active=tuple(await store.tasks_in_states(ACTIVE_STATES)),
        max_concurrent=max_concurrent,
    )
