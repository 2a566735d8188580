"""Which queued task starts next: pure ordering, no clock and no store.

Queue order is higher ``priority`` first, then first come first served: older ``created_at``
first, and the task id (time-sortable, strictly increasing per generator) breaks ties within
one timestamp. A task is ready when every task it depends on has completed. At most
``max_concurrent - active`` tasks start at once.

The order is stated once, as :data:`QUEUE_ORDER`: :func:`queue_order_key` sorts by it in
Python, and the SQL store builds its ``ORDER BY`` from it.
"""

from __future__ import annotations

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


def free_slots(active: int, max_concurrent: int) -> int:
    return max(0, max_concurrent - active)


def pick_next(
    queued: Iterable[Task],
    *,
    active: int,
    max_concurrent: int,
    states: Mapping[str, TaskState],
) -> list[Task]:
    """The tasks to start now, in start order.

    ``queued`` may hold tasks in any order and state (only queued ones are picked);
    ``active`` counts tasks already holding a slot; ``states`` maps prerequisite task ids to
    their states (a prerequisite missing from it counts as not completed).
    """
    slots = free_slots(active, max_concurrent)
    if slots == 0:
        return []
    picked: list[Task] = []
    for task in sorted(queued, key=queue_order_key):
        if task.state is TaskState.QUEUED and is_ready(task, states):
            picked.append(task)
            if len(picked) == slots:
                break
    return picked
