"""The Codex conversation a task owns: its threads and its turns.

A task has one current thread (``Task.thread_id``). A :class:`ThreadRecord` remembers every
thread a task has had, so a Codex notification or request naming a thread finds its task,
and a thread that replaced a lost one points back at it. A :class:`Turn` is one input to
Codex and what came of it; turns are numbered from 1 per task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from codex_runner.domain.events import TokenUsage


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    task_id: str
    created_at: datetime
    replaces: str | None = None  # the thread this one replaced (thread.replaced)


class TurnState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Turn:
    task_id: str
    number: int  # 1, 2, ... per task
    input: str
    started_at: datetime
    state: TurnState = TurnState.RUNNING
    thread_id: str | None = None
    codex_turn_id: str | None = None
    finished_at: datetime | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    error: str | None = None
    final_message: str | None = None  # Codex's last agent message of this turn
    result_json: str | None = None  # the validated JSON of a turn with an output schema
    auth_profile: str | None = None  # the auth profile Codex ran the turn under, if known

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError(f"turn numbers start at 1, got {self.number}")
