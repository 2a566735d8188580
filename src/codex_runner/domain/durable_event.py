"""Durable task events: the numbered, append-only history of each task.

A :class:`NewEvent` is what a writer hands the store; the store numbers it inside its write
transaction and gives back a :class:`TaskEvent`. Per task, ``seq`` starts at 1 (always the
``task.created`` event) and has no gaps. ``data`` is a JSON object.

Event types use the domain language:

- ``task.created``, ``task.state_changed``, ``task.reconciled`` (a state change made by
  startup reconciliation; same data as ``task.state_changed``), ``task.message_received``
- ``graph.created`` (on the parent's history), and the graph's progress on the parent's
  history too (``graph.child_started`` ...: :mod:`codex_runner.domain.graph_progress`)
- ``approval.requested``, ``approval.decided``, ``approval.expired``
- ``workspace.removed``: gc or the disk policy removed the task's worktree or workspace
- ``codex.<kind>`` for each canonical Codex event, e.g. ``codex.turn.completed``; its data is
  ``CodexEvent.to_dict()``, so :meth:`TaskEvent.codex_event` gives the event back.

Types are dotted lowercase names; add new ones to :class:`EventType` first.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from codex_runner.domain.approval import Approval
from codex_runner.domain.events import CodexEvent, EventKind, event_from_dict
from codex_runner.domain.graph import GraphPlan
from codex_runner.domain.task import Task
from codex_runner.domain.transitions import Action, apply

CODEX_PREFIX = "codex."
_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class EventType(StrEnum):
    TASK_CREATED = "task.created"
    TASK_STATE_CHANGED = "task.state_changed"
    TASK_RECONCILED = "task.reconciled"
    TASK_MESSAGE_RECEIVED = "task.message_received"
    GRAPH_CREATED = "graph.created"
    # A graph's progress, on its parent's history: see domain/graph_progress.py.
    GRAPH_CHILD_STARTED = "graph.child_started"
    GRAPH_CHILD_COMPLETED = "graph.child_completed"
    GRAPH_CHILD_FAILED = "graph.child_failed"
    GRAPH_DEPENDENCY_SATISFIED = "graph.dependency_satisfied"
    GRAPH_COMPLETED = "graph.completed"
    GRAPH_FAILED = "graph.failed"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_DECIDED = "approval.decided"
    APPROVAL_EXPIRED = "approval.expired"
    AUTH_FAILOVER = "auth.failover"  # switched auth profile after a usage-limit error
    WORKSPACE_REMOVED = "workspace.removed"  # by gc or the disk policy: path, bytes, rule


def codex_event_type(kind: EventKind) -> str:
    return CODEX_PREFIX + kind.value


# Every type the runner writes; a type outside this set is a programming error.
EVENT_TYPES: frozenset[str] = frozenset(
    [t.value for t in EventType] + [codex_event_type(k) for k in EventKind]
)
STATE_CHANGE_TYPES: frozenset[str] = frozenset(
    {EventType.TASK_STATE_CHANGED, EventType.TASK_RECONCILED}
)


@dataclass(frozen=True)
class NewEvent:
    """An event not yet numbered: what ``Store.append_events`` takes."""

    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _TYPE_PATTERN.match(self.type):
            raise ValueError(f"event type {self.type!r} is not a dotted lowercase name")
        if self.at.tzinfo is None:
            raise ValueError(f"event {self.type}: 'at' must be timezone-aware (use UTC)")


@dataclass(frozen=True)
class TaskEvent:
    """A durable event: number ``seq`` in task ``task_id``'s history."""

    task_id: str
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]

    def codex_event(self) -> CodexEvent | None:
        """The canonical Codex event this records, or None for a runner event."""
        if not self.type.startswith(CODEX_PREFIX):
            return None
        return event_from_dict(self.data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``at`` as an ISO 8601 string."""
        return {
            "task_id": self.task_id,
            "seq": self.seq,
            "type": self.type,
            "at": self.at.isoformat(),
            "data": self.data,
        }


def task_created(task: Task) -> NewEvent:
    data: dict[str, Any] = {
        "prompt": task.prompt,
        "priority": task.priority,
        "workspace": _compact(asdict(task.workspace)),
        "settings": _compact(asdict(task.settings)),
        "max_runtime_s": task.max_runtime_s,
    }
    for name in ("parent_id", "graph_id", "key", "idempotency_key"):
        value = getattr(task, name)
        if value is not None:
            data[name] = value
    if task.depends_on:
        data["depends_on"] = list(task.depends_on)
    return NewEvent(EventType.TASK_CREATED, task.created_at, data)


def state_changed(before: Task, after: Task, action: Action) -> NewEvent:
    """The record of ``before`` -> ``after``; a reconcile is typed ``task.reconciled``."""
    data: dict[str, Any] = {
        "from": before.state.value,
        "to": after.state.value,
        "action": action.value,
    }
    if after.reason is not None:
        data["reason"] = after.reason
    kind = EventType.TASK_RECONCILED if action is Action.RECONCILE else EventType.TASK_STATE_CHANGED
    return NewEvent(kind, after.updated_at, data)


def transition(
    task: Task, action: Action, *, now: datetime, reason: str | None = None
) -> tuple[Task, NewEvent]:
    """:func:`~codex_runner.domain.transitions.apply` plus the event that records it.

    Typical use: ``after, event = transition(task, Action.START, now=now)`` then
    ``store.update_task(after, expected_state=task.state, events=[event])``.
    """
    after = apply(task, action, now=now, reason=reason)
    return after, state_changed(task, after, action)


def message_received(text: str, *, at: datetime) -> NewEvent:
    return NewEvent(EventType.TASK_MESSAGE_RECEIVED, at, {"text": text})


def graph_created(plan: GraphPlan) -> NewEvent:
    children = {child.key: child.id for child in plan.children}
    return NewEvent(
        EventType.GRAPH_CREATED,
        plan.graph.created_at,
        {"graph_id": plan.graph.id, "children": children},
    )


def approval_requested(approval: Approval) -> NewEvent:
    data = _compact(
        {
            "approval_id": approval.id,
            "kind": approval.kind.value,
            "command": approval.command,
            "cwd": approval.cwd,
            "reason": approval.reason,
            "available_decisions": list(approval.available_decisions),
        }
    )
    if approval.changes:
        data["changes"] = [_compact(asdict(c)) for c in approval.changes]
    return NewEvent(EventType.APPROVAL_REQUESTED, approval.created_at, data)


def approval_decided(approval: Approval) -> NewEvent:
    assert approval.decided_at is not None, "only a decided approval has a decision event"
    return NewEvent(
        EventType.APPROVAL_DECIDED,
        approval.decided_at,
        {"approval_id": approval.id, "decision": approval.decision, "by": approval.decided_by},
    )


def approval_expired(approval: Approval) -> NewEvent:
    assert approval.decided_at is not None, "only an expired approval has an expiry event"
    return NewEvent(EventType.APPROVAL_EXPIRED, approval.decided_at, {"approval_id": approval.id})


def codex(event: CodexEvent, *, at: datetime) -> NewEvent:
    """A canonical Codex event as a durable one (``codex.<kind>``)."""
    return NewEvent(codex_event_type(event.kind), at, event.to_dict())


def _compact(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if v is not None}
