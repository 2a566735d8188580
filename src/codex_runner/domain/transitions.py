"""Task state transitions: the one place that says which state changes are allowed.

``TRANSITIONS`` maps (current state, action) to the next state. :func:`apply` is the only
function in the code base that changes ``Task.state``; it also keeps the bookkeeping that
belongs to a state change (timestamps, attempts, reason) in one place.

    queued             --start-->              running
    queued             --cancel-->             cancelled
    queued             --dependency_failed-->  failed
    running            --park_for_approval-->  awaiting_approval
    running            --complete-->           completed
    running            --fail-->               failed
    running            --interrupt-->          interrupted
    running            --cancel-->             cancelled
    running            --reconcile-->          interrupted   (after a crash)
    awaiting_approval  --approval_resolved-->  running
    awaiting_approval  --fail-->               failed
    awaiting_approval  --interrupt-->          interrupted
    awaiting_approval  --cancel-->             cancelled
    awaiting_approval  --reconcile-->          interrupted   (after a crash)
    interrupted        --resume-->             queued        (same thread)
    interrupted        --message-->            queued        (same thread, new input)
    interrupted        --cancel-->             cancelled
    completed          --message-->            queued        (same thread, new input)

Failed and cancelled are final (:data:`FINAL_STATES`); completed is final unless someone
sends a follow-up message (:func:`accepts_message`).

Only some actions are a user's to take (:data:`USER_ACTIONS`); the others are the runner's own
bookkeeping (start, reconcile, dependency_failed...), so an error tells a user only the former.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from codex_runner.domain.task import Task, TaskState


class Action(StrEnum):
    START = "start"
    PARK_FOR_APPROVAL = "park_for_approval"
    APPROVAL_RESOLVED = "approval_resolved"
    COMPLETE = "complete"
    FAIL = "fail"
    INTERRUPT = "interrupt"
    RESUME = "resume"
    MESSAGE = "message"
    CANCEL = "cancel"
    RECONCILE = "reconcile"
    DEPENDENCY_FAILED = "dependency_failed"
    # Another client of the shared app-server (a person in the Codex TUI) started a turn on
    # the task's thread: the task runs it, though the runner did not start it.
    TURN_STARTED_ELSEWHERE = "turn_started_elsewhere"


_S = TaskState
_A = Action

TRANSITIONS: Mapping[tuple[TaskState, Action], TaskState] = MappingProxyType(
    {
        (_S.QUEUED, _A.START): _S.RUNNING,
        (_S.QUEUED, _A.CANCEL): _S.CANCELLED,
        (_S.QUEUED, _A.DEPENDENCY_FAILED): _S.FAILED,
        (_S.RUNNING, _A.PARK_FOR_APPROVAL): _S.AWAITING_APPROVAL,
        (_S.RUNNING, _A.COMPLETE): _S.COMPLETED,
        (_S.RUNNING, _A.FAIL): _S.FAILED,
        (_S.RUNNING, _A.INTERRUPT): _S.INTERRUPTED,
        (_S.RUNNING, _A.CANCEL): _S.CANCELLED,
        (_S.RUNNING, _A.RECONCILE): _S.INTERRUPTED,
        (_S.AWAITING_APPROVAL, _A.APPROVAL_RESOLVED): _S.RUNNING,
        (_S.AWAITING_APPROVAL, _A.FAIL): _S.FAILED,
        (_S.AWAITING_APPROVAL, _A.INTERRUPT): _S.INTERRUPTED,
        (_S.AWAITING_APPROVAL, _A.CANCEL): _S.CANCELLED,
        (_S.AWAITING_APPROVAL, _A.RECONCILE): _S.INTERRUPTED,
        (_S.INTERRUPTED, _A.RESUME): _S.QUEUED,
        (_S.INTERRUPTED, _A.MESSAGE): _S.QUEUED,
        (_S.INTERRUPTED, _A.CANCEL): _S.CANCELLED,
        (_S.COMPLETED, _A.MESSAGE): _S.QUEUED,
        (_S.COMPLETED, _A.TURN_STARTED_ELSEWHERE): _S.RUNNING,
        (_S.INTERRUPTED, _A.TURN_STARTED_ELSEWHERE): _S.RUNNING,
    }
)


# States no action leaves: a failed or cancelled task is over for good (a follow-up needs a
# new task), unlike a completed one, which a follow-up message re-queues.
FINAL_STATES: frozenset[TaskState] = frozenset(
    s for s in TaskState if not any((s, a) in TRANSITIONS for a in Action)
)

# What a person (CLI, API, page, Slack) can ask for; the rest only the runner does.
USER_ACTIONS: frozenset[Action] = frozenset({_A.INTERRUPT, _A.RESUME, _A.MESSAGE, _A.CANCEL})


class InvalidTransition(Exception):
    """An action that the task's current state does not allow.

    ``allowed`` and the message name only the user actions the state allows: the runner's
    own actions mean nothing to whoever reads the error.
    """

    def __init__(self, task_id: str, state: TaskState, action: Action) -> None:
        self.task_id = task_id
        self.state = state
        self.action = action
        self.allowed = user_actions(state)
        allowed = ", ".join(self.allowed) or "none (the state is final)"
        if state is TaskState.AWAITING_APPROVAL:
            allowed += " (or decide its pending approval)"
        super().__init__(
            f"cannot {action} task {task_id}: it is {state}; "
            f"actions allowed from {state}: {allowed}"
        )


def allowed_actions(state: TaskState) -> tuple[Action, ...]:
    """The actions allowed from ``state``, in declaration order of :class:`Action`."""
    return tuple(a for a in Action if (state, a) in TRANSITIONS)


def user_actions(state: TaskState) -> tuple[Action, ...]:
    """The :data:`USER_ACTIONS` allowed from ``state``, in declaration order."""
    return tuple(a for a in allowed_actions(state) if a in USER_ACTIONS)


def can_apply(state: TaskState, action: Action) -> bool:
    return (state, action) in TRANSITIONS


def accepts_message(state: TaskState) -> bool:
    """Whether a follow-up message can be queued as the task's next turn now."""
    return can_apply(state, Action.MESSAGE)


def apply(task: Task, action: Action, *, now: datetime, reason: str | None = None) -> Task:
    """The task after ``action``, or :class:`InvalidTransition` if the state does not allow it.

    Bookkeeping: ``updated_at`` becomes ``now``; ``reason`` becomes ``reason`` (``None`` clears
    it); ``start`` sets ``started_at`` and counts an attempt; entering a terminal state sets
    ``finished_at``, leaving one clears it.
    """
    target = TRANSITIONS.get((task.state, action))
    if target is None:
        raise InvalidTransition(task.id, task.state, action)
    started_at = now if action in (Action.START, Action.TURN_STARTED_ELSEWHERE) else task.started_at
    attempts = task.attempts + 1 if action is Action.START else task.attempts
    finished_at = now if target.is_terminal else None
    return replace(
        task,
        state=target,
        reason=reason,
        updated_at=now,
        started_at=started_at,
        finished_at=finished_at,
        attempts=attempts,
    )
