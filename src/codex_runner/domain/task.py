"""The task: the unit of work the runner owns.

A task is a frozen value. Its state changes only through
:func:`codex_runner.domain.transitions.apply`; other fields (thread, usage, final message,
branch) are set with :func:`dataclasses.replace` by the service as Codex reports them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from codex_runner.domain.events import TokenUsage
from codex_runner.domain.task_options import SessionOptions, TurnOverrides

DEFAULT_MAX_RUNTIME_S = 5 * 60 * 60.0  # five hours
# The reasoning efforts the pinned Codex knows (its ReasoningEffort values).
REASONING_EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Completed, failed or cancelled: nothing runs and nothing will unless asked again."""
        return self in TERMINAL_STATES

    @property
    def is_idle(self) -> bool:
        """Neither queued nor active: no turn runs or waits to run (the last one ended)."""
        return self in IDLE_STATES

    @property
    def is_active(self) -> bool:
        """Running or awaiting approval: a live Codex turn belongs to the task.

        These are the states startup reconciliation turns into ``interrupted`` after a crash.
        """
        return self in ACTIVE_STATES


TERMINAL_STATES: frozenset[TaskState] = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED}
)
ACTIVE_STATES: frozenset[TaskState] = frozenset({TaskState.RUNNING, TaskState.AWAITING_APPROVAL})
IDLE_STATES: frozenset[TaskState] = frozenset(TaskState) - ACTIVE_STATES - {TaskState.QUEUED}


class InvalidWorkspaceRequest(ValueError):
    """A workspace request of the wrong shape; ``field`` names the request field to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class WorkspaceRequest:
    """Where a task asks to run: a git repository (a worktree is made from ``base_ref``) or
    a directory. What exists on disk once it is made is a ``workspace.Workspace``.

    Exactly one of ``repo`` and ``cwd`` is set; ``base_ref`` only goes with ``repo``.
    """

    repo: str | None = None
    base_ref: str | None = None
    cwd: str | None = None

    def __post_init__(self) -> None:
        if self.repo is not None and self.cwd is not None:
            raise InvalidWorkspaceRequest(
                "cwd",
                "give either repo (a git repository: the task gets its own worktree) or cwd "
                "(a plain directory: the task runs in place), not both",
            )
        if self.repo is None and self.cwd is None:
            raise InvalidWorkspaceRequest(
                "repo", "say where the task runs: repo (a git repository) or cwd (a directory)"
            )
        if self.base_ref is not None and self.repo is None:
            raise InvalidWorkspaceRequest(
                "base_ref", "base_ref only applies with repo, not with cwd"
            )

    @classmethod
    def git(cls, repo: str, base_ref: str = "HEAD") -> WorkspaceRequest:
        return cls(repo=repo, base_ref=base_ref)

    @classmethod
    def directory(cls, cwd: str) -> WorkspaceRequest:
        return cls(cwd=cwd)

    @property
    def is_git(self) -> bool:
        return self.repo is not None

    @property
    def repo_path(self) -> Path | None:
        return Path(self.repo) if self.repo is not None else None

    @property
    def cwd_path(self) -> Path | None:
        return Path(self.cwd) if self.cwd is not None else None


@dataclass(frozen=True)
class RuntimeSettings:
    """Codex settings for one task; ``None`` means the runner's configured default."""

    model: str | None = None
    effort: str | None = None
    sandbox: str | None = None
    approval_policy: str | None = None


@dataclass(frozen=True)
class Task:
    """One unit of work: a prompt run by Codex in a workspace, on one thread, over turns.

    Graph fields: a graph's parent has ``graph_id`` set and no ``key``; each child has
    ``graph_id``, ``parent_id``, its ``key`` in the graph, and ``depends_on`` (task ids of
    sibling children that must complete first).
    """

    id: str
    prompt: str
    workspace: WorkspaceRequest
    created_at: datetime
    updated_at: datetime
    priority: int = 0  # higher runs first
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    state: TaskState = TaskState.QUEUED
    reason: str | None = None  # why the task is in its state (set by the last transition)
    started_at: datetime | None = None  # start of the latest run
    finished_at: datetime | None = None  # set while the task is in a terminal state
    thread_id: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    final_message: str | None = None
    branch: str | None = None
    diff_summary: str | None = None
    parent_id: str | None = None
    graph_id: str | None = None
    key: str | None = None
    depends_on: tuple[str, ...] = ()
    max_runtime_s: float = DEFAULT_MAX_RUNTIME_S
    idempotency_key: str | None = None
    attempts: int = 0  # how many times the task was started
    # A follow-up message waiting for the next turn (set when ``message`` re-queues the task).
    pending_message: str | None = None
    # Local image files sent with the next turn's text (absolute paths).
    pending_images: tuple[str, ...] = ()
    # False for a graph parent without a prompt of its own: it completes, without a Codex
    # turn, with its children's results once they are all done.
    runs_codex: bool = True
    # A digest of the request that used ``idempotency_key``: the same key with a different
    # request is refused rather than answered with this task.
    idempotency_fingerprint: str | None = None
    # When gc removed the task's worktree (its diff is gone with it).
    workspace_collected_at: datetime | None = None
    # Codex session options, fixed for the task's life (instructions, personality, tier...).
    session: SessionOptions = field(default_factory=SessionOptions)
    purpose: str | None = None  # a short label callers find tasks by
    metadata: Mapping[str, str] = field(default_factory=dict)  # the caller's own keys
    # Overrides for the next turn only (set with its input; cleared when the turn starts).
    next_turn: TurnOverrides = field(default_factory=TurnOverrides)
    # The validated JSON (as text) of the latest turn that had an output schema.
    result_json: str | None = None
    host_id: str | None = None  # the host that claimed the task last (domain.hosts)
    lease: int = 0  # grows on every claim and takeover; writes on an older one are refused

    def __post_init__(self) -> None:
        if not isinstance(self.state, TaskState):  # accept "queued" from JSON or a test
            object.__setattr__(self, "state", TaskState(self.state))
        if not self.prompt.strip():
            raise ValueError(f"task {self.id}: the prompt is empty")
        if not 0 < self.max_runtime_s < math.inf:  # also false for NaN
            raise ValueError(f"task {self.id}: max_runtime_s must be positive and finite")
        if self.created_at.tzinfo is None or self.updated_at.tzinfo is None:
            raise ValueError(f"task {self.id}: timestamps must be timezone-aware (use UTC)")
        if self.id in self.depends_on:
            raise ValueError(f"task {self.id} depends on itself")
        if len(set(self.depends_on)) != len(self.depends_on):
            raise ValueError(f"task {self.id}: depends_on lists a task twice")

    @property
    def is_graph_parent(self) -> bool:
        return self.graph_id is not None and self.key is None

    @property
    def is_graph_child(self) -> bool:
        return self.graph_id is not None and self.key is not None
