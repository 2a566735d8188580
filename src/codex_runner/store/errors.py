"""Typed store errors, shared by every Store implementation.

Approval decisions also raise the domain's
:class:`~codex_runner.domain.approval.DecisionNotOffered` and
:class:`~codex_runner.domain.approval.ApprovalAlreadySettled`.
"""

from __future__ import annotations

from codex_runner.domain.task import TaskState


class StoreError(Exception):
    """Base of store errors."""


class StoreClosed(StoreError):
    def __init__(self) -> None:
        super().__init__("the store is closed; open a new one")


class StoreBusy(StoreError):
    """Another process held the database's write lock for longer than the busy timeout.

    Nothing was written; the same request can be sent again in ``retry_after_s`` seconds.
    """

    def __init__(self, retry_after_s: int = 5) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            "the store is busy (another process holds the database lock); retry shortly"
        )


class TaskNotFound(StoreError):
    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no task {task_id}")


class TaskAlreadyExists(StoreError):
    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id} already exists; ids must be new")


class DuplicateIdempotencyKey(StoreError):
    """A task with this idempotency key exists: the caller should return that task."""

    def __init__(self, key: str, existing_task_id: str) -> None:
        self.key = key
        self.existing_task_id = existing_task_id
        super().__init__(f"idempotency key {key!r} already belongs to task {existing_task_id}")


class UnknownDependency(StoreError):
    def __init__(self, task_id: str, missing: str) -> None:
        self.task_id = task_id
        self.missing = missing
        super().__init__(f"task {task_id} depends on {missing}, which does not exist")


class LeaseLost(StoreError):
    """The task's lease is no longer the writer's: another host claimed it or took it over."""

    def __init__(self, task_id: str, held: int, current: int) -> None:
        self.task_id = task_id
        super().__init__(
            f"task {task_id} is no longer this host's (lease {held}, now {current}); "
            "another host has it"
        )


class TaskConflict(StoreError):
    """Compare-and-set failed: the task is no longer in the state the writer read."""

    def __init__(self, task_id: str, expected: TaskState, actual: TaskState) -> None:
        self.task_id = task_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"task {task_id} changed under you: expected it {expected}, it is {actual};"
            " read it again and retry"
        )


class InvalidGraph(StoreError):
    """Graph tasks that do not fit together (ids, parent, graph id, dependencies)."""


class GraphAlreadyExists(StoreError):
    def __init__(self, graph_id: str) -> None:
        self.graph_id = graph_id
        super().__init__(f"graph {graph_id} already exists; ids must be new")


class ApprovalNotFound(StoreError):
    def __init__(self, approval_id: str) -> None:
        self.approval_id = approval_id
        super().__init__(f"no approval {approval_id}")


class ApprovalAlreadyExists(StoreError):
    def __init__(self, approval_id: str) -> None:
        self.approval_id = approval_id
        super().__init__(f"approval {approval_id} already exists; ids must be new")


class ThreadOwnedElsewhere(StoreError):
    def __init__(self, thread_id: str, owner: str) -> None:
        self.thread_id = thread_id
        self.owner = owner
        super().__init__(f"thread {thread_id} already belongs to task {owner}")


class SchemaError(StoreError):
    """The database schema cannot be brought to this version of codex-runner."""
