"""What a graph's task changing state tells the graph's own stream.

A graph reports as it goes with events on its parent's history, written by the store in
the same transaction as the state change that causes them (so they are exactly as gapless
and durable as the change itself):

- ``graph.child_started``: a child left the queue and runs (queued -> running).
- ``graph.child_completed``; ``graph.child_failed`` (it failed or was cancelled).
- ``graph.dependency_satisfied``: a queued child whose last prerequisite just completed
  (the child is ready; it starts when a slot is free).
- ``graph.completed``; ``graph.failed`` (the parent, which runs last, failed or was
  cancelled: a child's failure fails it at once).

The graph's own stream is the parent's events of these types and ``graph.created``,
numbered 1, 2, 3 ... among themselves (:data:`GRAPH_STREAM_TYPES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codex_runner.domain.durable_event import EventType, NewEvent
from codex_runner.domain.task import Task, TaskState

# What the graph's stream holds, in the parent's history order.
GRAPH_STREAM_TYPES: frozenset[str] = frozenset(
    {
        EventType.GRAPH_CREATED,
        EventType.GRAPH_CHILD_STARTED,
        EventType.GRAPH_CHILD_COMPLETED,
        EventType.GRAPH_CHILD_FAILED,
        EventType.GRAPH_DEPENDENCY_SATISFIED,
        EventType.GRAPH_COMPLETED,
        EventType.GRAPH_FAILED,
    }
)
_ENDED_BADLY = (TaskState.FAILED, TaskState.CANCELLED)


def progress_events(before: TaskState, after: Task, members: Iterable[Task]) -> list[NewEvent]:
    """The graph events ``after`` leaving ``before`` causes (none if it is in no graph or
    its state did not change). ``members`` are the graph's tasks as they are once the
    change is written (``after`` among them); the events are stamped ``after.updated_at``.
    """
    if after.graph_id is None or before is after.state:
        return []
    at = after.updated_at
    if after.is_graph_parent:
        if after.state is TaskState.COMPLETED:
            data: dict[str, Any] = {"graph_id": after.graph_id, "state": after.state.value}
            return [NewEvent(EventType.GRAPH_COMPLETED, at, data)]
        if after.state in _ENDED_BADLY:
            data = {"graph_id": after.graph_id, "state": after.state.value, "reason": after.reason}
            return [NewEvent(EventType.GRAPH_FAILED, at, data)]
        return []
    if after.state is TaskState.RUNNING and before is TaskState.QUEUED:
        return [NewEvent(EventType.GRAPH_CHILD_STARTED, at, _child(after))]
    if after.state in _ENDED_BADLY:
        data = {**_child(after), "state": after.state.value, "reason": after.reason}
        return [NewEvent(EventType.GRAPH_CHILD_FAILED, at, data)]
    if after.state is not TaskState.COMPLETED:
        return []
    done = [NewEvent(EventType.GRAPH_CHILD_COMPLETED, at, _child(after))]
    tasks = sorted(members, key=lambda t: (t.created_at, t.id))  # the spec's order
    states = {t.id: t.state for t in tasks}
    states[after.id] = after.state
    for sibling in tasks:
        if (
            sibling.is_graph_child
            and sibling.state is TaskState.QUEUED
            and after.id in sibling.depends_on
            and all(states.get(d) is TaskState.COMPLETED for d in sibling.depends_on)
        ):
            data = {**_child(sibling), "completed": after.id}
            done.append(NewEvent(EventType.GRAPH_DEPENDENCY_SATISFIED, at, data))
    return done


def _child(task: Task) -> dict[str, Any]:
    return {"graph_id": task.graph_id, "task_id": task.id, "key": task.key}
