"""Errors the service raises for bad requests, each naming the field at fault and the fix."""

from __future__ import annotations

from codex_runner.domain.task import TaskState


class InvalidRequest(ValueError):
    """A request the service refuses before anything is written; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class TaskNotRunning(Exception):
    """The action needs a live Codex turn and the task has none."""

    def __init__(self, task_id: str, state: TaskState, action: str) -> None:
        self.task_id = task_id
        self.state = state
        super().__init__(f"cannot {action} task {task_id}: it is {state}, not running a turn")


class GraphNotFound(LookupError):
    def __init__(self, graph_id: str) -> None:
        self.graph_id = graph_id
        super().__init__(f"no graph {graph_id}: check the id (graph ids start with g_)")
