"""The Store: the only interface the service uses for durable state and the event log.

Implementations: :class:`~codex_runner.store.memory.InMemoryStore` (the test double, shipped
in the package) and :class:`~codex_runner.store.sql.SqlStore` (SQLite by default). One
contract test suite (``tests/unit/store/test_store_contract.py``) runs against both.

Rules every implementation keeps:

- Each operation is atomic: it happens completely or not at all.
- Events are numbered inside the write that stores them: per task, ``seq`` starts at 1 with
  ``task.created`` and has no gaps, however many writers append at once.
- Operations that create or settle something record it in the task's history in the same
  write: ``task.created`` (and ``graph.created`` on a graph's parent), ``approval.requested``,
  ``approval.decided``, ``approval.expired``; and a state change of a graph's task records
  what it tells the graph (``graph.child_started`` ...: :func:`~codex_runner.domain.
  graph_progress.progress_events`) on the graph's parent. Any other events come from the
  caller through ``update_task(events=...)`` or ``append_events``.
- ``update_task`` is compare-and-set on the task's state: it fails with
  :class:`~codex_runner.store.errors.TaskConflict` rather than lose someone else's update.
- Values come back equal to what was written (frozen domain dataclasses; event data as
  JSON would give it back: tuples become lists).
- After ``close()`` every operation raises :class:`~codex_runner.store.errors.StoreClosed`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from codex_runner.domain.approval import Approval
from codex_runner.domain.conversation import ThreadRecord, Turn
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.graph import Graph, GraphPlan
from codex_runner.domain.hosts import Host, Rollout
from codex_runner.domain.task import Task, TaskState
from codex_runner.store.coauthors import CoauthorStore
from codex_runner.store.event_archive_codec import ArchivedEvents, ArchiveTotals
from codex_runner.store.jobs import JobStore
from codex_runner.store.outbox import NotifyOutbox

DEFAULT_PAGE = 100
DEFAULT_EVENT_PAGE = 1000

# Task fields fixed when the task is created; update_task never writes them.
TASK_IDENTITY_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "parent_id",
    "graph_id",
    "key",
    "depends_on",
    "idempotency_key",
    "idempotency_fingerprint",
)


@dataclass(frozen=True)
class TaskUpdate:
    """One task of an :meth:`Store.update_tasks` batch: like one ``update_task`` call."""

    task: Task
    expected_state: TaskState
    events: Sequence[NewEvent] = ()
    # The lease the task must still have (None: ``task.lease``, for changes that keep it).
    expected_lease: int | None = None

    @property
    def lease_before(self) -> int:
        return self.task.lease if self.expected_lease is None else self.expected_lease


def check_distinct(batch: Sequence[TaskUpdate]) -> None:
    """An update_tasks batch names each task once (two updates of one task would race)."""
    ids = [u.task.id for u in batch]
    if len(set(ids)) != len(ids):
        raise ValueError("update_tasks: a task appears more than once in the batch")


class Store(NotifyOutbox, JobStore, CoauthorStore, Protocol):
    async def close(self) -> None:
        """Release connections; idempotent."""

    # --- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: Task) -> None:
        """Store a new task and its ``task.created`` event (seq 1).

        Raises TaskAlreadyExists, DuplicateIdempotencyKey (``existing_task_id`` names the task
        to return instead), UnknownDependency.
        """

    async def create_graph(self, plan: GraphPlan) -> None:
        """Store a graph, its parent and children in one transaction, with their events.

        Nothing is written if anything is wrong. Raises InvalidGraph (ids or dependencies do
        not fit together), GraphAlreadyExists, TaskAlreadyExists, DuplicateIdempotencyKey.
        """

    async def get_task(self, task_id: str) -> Task | None: ...

    async def find_by_idempotency_key(self, key: str) -> Task | None: ...

    async def update_task(
        self,
        task: Task,
        *,
        expected_state: TaskState,
        events: Sequence[NewEvent] = (),
        thread: ThreadRecord | None = None,
        graph_events: list[TaskEvent] | None = None,
        expected_lease: int | None = None,
    ) -> list[int]:
        """Write ``task`` if the stored task is still in ``expected_state`` with its lease
        ``expected_lease`` (None: ``task.lease``; a claim or takeover names the one it
        replaces); append ``events``;
        record ``thread`` as :meth:`record_thread` does; record the graph's progress on its
        parent when a graph task changes state; all in one transaction.

        Identity fields fixed at creation (``TASK_IDENTITY_FIELDS``) are not written.
        Returns the events' seqs; the graph events written on the parent are added to
        ``graph_events`` when given (to be published). Raises TaskNotFound, TaskConflict,
        ThreadOwnedElsewhere (nothing written).
        """

    async def update_tasks(
        self, updates: Sequence[TaskUpdate], *, graph_events: list[TaskEvent] | None = None
    ) -> list[list[int]]:
        """``update_task`` for many tasks in one transaction: all are written or none.

        Returns each update's event seqs, in order. Raises TaskNotFound or TaskConflict for
        the first task that is missing or not in its expected state and lease (nothing
        written), and
        ValueError when a task appears twice.
        """

    async def claim_tasks(
        self,
        claims: Sequence[TaskUpdate],
        limit: int,
        *,
        graph_events: list[TaskEvent] | None = None,
    ) -> list[tuple[TaskUpdate, list[int]]]:
        """Apply, in order, the first ``limit`` of ``claims`` whose task is still in its
        expected state and lease, in one transaction; a task another host is claiming at
        this moment is skipped (PostgreSQL's FOR UPDATE SKIP LOCKED), not waited for.
        Returns the claims written, each with its events' seqs; the graphs' progress as
        ``update_tasks`` records it, added to ``graph_events``."""

    async def list_tasks(
        self,
        *,
        states: Collection[TaskState] | None = None,
        graph_id: str | None = None,
        purpose: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks newest first (created_at, then id, descending), optionally filtered (every
        ``metadata`` key must hold its value)."""

    async def tasks_in_states(self, states: Collection[TaskState]) -> list[Task]:
        """Every task in ``states``, oldest first; for startup reconciliation."""

    async def count_by_state(self) -> dict[TaskState, int]:
        """How many tasks are in each state; every state is a key."""

    async def states_of(self, task_ids: Collection[str]) -> dict[str, TaskState]:
        """States of the given tasks (unknown ids are left out)."""

    async def next_queued(self, limit: int) -> list[Task]:
        """Up to ``limit`` queued tasks that are ready to start, in queue order.

        Ready: every task in ``depends_on`` has completed. Queue order: higher priority
        first, then older first (created_at, then id). Both are the rule of
        :mod:`codex_runner.domain.scheduling` (:func:`~codex_runner.domain.scheduling.pick_next`
        with ``limit`` free slots); the store contract test checks every store against it.
        """

    # --- events ----------------------------------------------------------------------------

    async def append_events(
        self, task_id: str, events: Sequence[NewEvent], *, lease: int | None = None
    ) -> list[int]:
        """Append ``events`` in order; returns their seqs (consecutive). Raises TaskNotFound,
        and LeaseLost when ``lease`` is given and the task no longer has it."""

    async def read_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        """Events with ``seq > after_seq`` in seq order, at most ``limit``."""

    async def read_graph_events(
        self, parent_id: str, *, skip: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        """The graph's stream: the parent's events of the types in
        :data:`~codex_runner.domain.graph_progress.GRAPH_STREAM_TYPES`, in seq order,
        leaving out the first ``skip`` of them, at most ``limit``."""

    async def last_seq(self, task_id: str) -> int:
        """The seq of the task's newest event (0 for an unknown task)."""

    # --- the event archive (docs/event-archive.md) -----------------------------------------

    async def tasks_to_archive(self, *, finished_before: datetime, limit: int) -> list[str]:
        """Up to ``limit`` tasks in a terminal state, finished before ``finished_before``,
        with events not yet archived; the longest finished first."""

    async def archive_events(
        self, task_id: str, *, finished_before: datetime, now: datetime
    ) -> ArchivedEvents | None:
        """Move the task's events out of the event log into its compressed archive (with
        those archived before), in one transaction, if it is still in a terminal state and
        finished before ``finished_before``; None when there was nothing to do. Reading the
        events (``read_events``, ``read_graph_events``) goes on as before, seqs and all."""

    async def event_archive_totals(self) -> ArchiveTotals:
        """How many tasks, events and compressed bytes the archives hold."""

    # --- approvals -------------------------------------------------------------------------

    async def create_approval(self, approval: Approval, *, lease: int | None = None) -> int:
        """Store a pending approval; returns the seq of its ``approval.requested`` event.

        Raises TaskNotFound, ApprovalAlreadyExists, and LeaseLost when ``lease`` is given
        and the task no longer has it.
        """

    async def get_approval(self, approval_id: str) -> Approval | None: ...

    async def list_pending_approvals(self, *, task_id: str | None = None) -> list[Approval]:
        """Pending approvals, oldest first."""

    async def decide_approval(
        self, approval_id: str, decision: str, *, by: str, now: datetime
    ) -> Approval:
        """Decide once, atomically, and record ``approval.decided``; returns the decided one.

        Of several racing deciders exactly one wins. Raises ApprovalNotFound,
        ApprovalAlreadySettled, DecisionNotOffered (nothing written).
        """

    async def expire_approvals(self, task_id: str, *, now: datetime) -> list[Approval]:
        """Expire the task's pending approvals (recording ``approval.expired`` for each)."""

    async def expire_approvals_of(
        self, task_ids: Collection[str], *, now: datetime
    ) -> list[Approval]:
        """``expire_approvals`` for many tasks in one transaction (oldest approval first)."""

    # --- graphs ----------------------------------------------------------------------------

    async def get_graph(self, graph_id: str) -> Graph | None:
        """The graph record; its tasks are ``list_tasks(graph_id=...)``."""

    # --- threads and turns -----------------------------------------------------------------

    async def record_thread(self, thread: ThreadRecord) -> None:
        """Remember that a Codex thread belongs to a task; recording it again is a no-op.

        Raises TaskNotFound, ThreadOwnedElsewhere.
        """

    async def find_task_by_thread(self, thread_id: str) -> Task | None: ...

    async def save_turn(self, turn: Turn) -> None:
        """Insert or replace turn ``(task_id, number)``. Raises TaskNotFound."""

    async def list_turns(self, task_id: str) -> list[Turn]:
        """The task's turns by number."""

    # --- directories -----------------------------------------------------------------------

    async def record_directory_thread(self, path: str, thread_id: str, at: datetime) -> None:
        """Remember ``thread_id`` as the thread `run` last used in directory ``path``
        (resolved), replacing the one before."""

    async def directory_thread(self, path: str) -> str | None:
        """The thread `run` last used in directory ``path``, None when it never ran there."""

    # --- hosts (domain.hosts) --------------------------------------------------------------

    async def save_rollout(self, rollout: Rollout) -> None:
        """Keep (replace) the thread's session file copy."""

    async def load_rollout(self, thread_id: str) -> Rollout | None:
        """The thread's session file copy, None when none was kept."""

    async def notify_hosts(self, topic: str) -> None:
        """Tell the other hosts sharing the store that there is work (``topic``)."""

    def listen_hosts(self, on_notice: Callable[[str], None]) -> Callable[[], None] | None:
        """Call ``on_notice(topic)`` (from any thread) when another host notifies; returns
        the function that stops listening, or None when no other host can share the store."""

    async def save_host(self, host: Host) -> None:
        """Insert or replace the host's row (a host registering, or coming back)."""

    async def heartbeat(self, host_id: str, at: datetime) -> Host | None:
        """Record a heartbeat; the host's row after it (``dead_at`` set: it was taken over
        and must stop its work), None when it has no row."""

    async def list_hosts(self) -> list[Host]:
        """Every host, live and dead, by id."""

    async def set_host_draining(self, host_id: str, draining: bool) -> bool:
        """Mark the host draining (or not); False when there is no such host."""

    async def mark_dead_hosts(self, cutoff: datetime, now: datetime, except_id: str) -> list[str]:
        """Hosts (other than ``except_id``) whose heartbeat is older than ``cutoff`` and not
        yet dead become dead at ``now``; their ids. Two hosts marking at once mark each once."""

    async def active_tasks_of_dead_hosts(self) -> list[Task]:
        """Running or awaiting-approval tasks claimed by a dead host (to take over)."""
