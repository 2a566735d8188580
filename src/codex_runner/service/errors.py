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
        super().__init__(
            f"no graph {graph_id}: check the id (a graph's id starts with g_; the id of one"
            " of its tasks, t_..., names it too)"
        )


class IdempotencyKeyReused(Exception):
    """An idempotency key sent again with a different request than the one that used it.

    The same request again is answered with what it made; a different one is refused, so a
    client that reuses a key by mistake learns it instead of getting someone else's task.
    """

    def __init__(self, key: str, task_id: str) -> None:
        self.key = key
        self.task_id = task_id
        self.field = "idempotency_key"
        super().__init__(
            f"idempotency key {key!r} was already used for task {task_id} with a different "
            "request; send that same request again to get it, or use a new key"
        )


class NotAttachable(Exception):
    """A task whose Codex thread nobody can attach to now; the message says why and when."""

    def __init__(self, task_id: str, message: str) -> None:
        self.task_id = task_id
        super().__init__(message)


class NoAppServer(Exception):
    """The request needs a Codex app-server and this daemon runs ``codex exec``."""
