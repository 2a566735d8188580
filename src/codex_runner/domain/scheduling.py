"""Which queued task starts next: pure ordering, no clock and no store.

Queue order is higher ``priority`` first, then first come first served: older ``created_at``
first, and the task id (time-sortable, strictly increasing per generator) breaks ties within
one timestamp. A task is ready when every task it depends on has completed. At most
``max_concurrent - active`` tasks start at once, and a graph with a ``max_concurrent`` of its
own has at most that many of its tasks busy (running or awaiting approval) at once: its
other ready tasks wait in place while the queue order goes on past them.

The order is stated once, as :data:`QUEUE_ORDER`: :func:`queue_order_key` sorts by it in
Python, and the SQL store builds its ``ORDER BY`` from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from codex_runner.domain.task import Task, TaskState


@dataclass(frozen=True)
class OrderField:
    """One field of the queue order: a :class:`Task` attribute and its direction."""

    name: str
    descending: bool = False


QUEUE_ORDER: tuple[OrderField, ...] = (
    OrderField("priority", descending=True),
    OrderField("created_at"),
    OrderField("id"),
)


def queue_order_key(task: Task) -> tuple[int, datetime, str]:
    """Sort key of the queue: ``sorted(tasks, key=queue_order_key)`` is the start order.

    Spells out :data:`QUEUE_ORDER` (a datetime cannot be negated, so the key is not built
    from it generically); a unit test checks the two agree.
    """
    return (-task.priority, task.created_at, task.id)


def is_ready(task: Task, states: Mapping[str, TaskState]) -> bool:
    """True when every prerequisite is known in ``states`` and completed."""
    return all(states.get(dep) is TaskState.COMPLETED for dep in task.depends_on)


# The states in which a task holds one of its graph's slots.
BUSY_STATES = frozenset({TaskState.RUNNING, TaskState.AWAITING_APPROVAL})


def busy_by_graph(tasks: Iterable[Task]) -> dict[str, int]:
    """How many tasks of each graph are busy (hold one of its slots)."""
    return dict(Counter(t.graph_id for t in tasks if t.graph_id and t.state in BUSY_STATES))


def free_slots(active: int, max_concurrent: int) -> int:
    return max(0, max_concurrent - active)


def pick_next(
    queued: Iterable[Task],
    *,
    active: int,
    max_concurrent: int,
    states: Mapping[str, TaskState],
    graph_limits: Mapping[str, int] | None = None,
    busy: Mapping[str, int] | None = None,
) -> list[Task]:
    """The tasks to start now, in start order.

    ``queued`` may hold tasks in any order and state (only queued ones are picked);
    ``active`` counts tasks already holding a slot; ``states`` maps prerequisite task ids to
    their states (a prerequisite missing from it counts as not completed).
    ``graph_limits`` maps a graph id to its ``max_concurrent`` (a graph missing from it has
    no limit of its own) and ``busy`` a graph id to how many of its tasks are busy now
    (:func:`busy_by_graph`).
    """
    slots = free_slots(active, max_concurrent)
    if slots == 0:
        return []
    limits = graph_limits or {}
    taken = Counter(busy or {})
    picked: list[Task] = []
    for task in sorted(queued, key=queue_order_key):
        if task.state is TaskState.QUEUED and is_ready(task, states):
            graph = task.graph_id
            limit = limits.get(graph) if graph is not None else None
            if graph is not None and limit is not None:
                if taken[graph] >= limit:
                    continue  # its graph is full: it keeps its place for when a slot frees
                taken[graph] += 1
            picked.append(task)
            if len(picked) == slots:
                break
    return picked
