"""The Store contract: one suite, run against InMemoryStore and SqlStore (SQLite in tmp_path)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_runner.domain import durable_event as de
from codex_runner.domain.approval import (
    Approval,
    ApprovalAlreadySettled,
    ApprovalState,
    DecisionNotOffered,
)
from codex_runner.domain.conversation import ThreadRecord, Turn, TurnState
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.events import ApprovalKind, FileChange, TokenUsage
from codex_runner.domain.graph import ChildSpec, GraphPlan, GraphSpec, instantiate
from codex_runner.domain.hosts import Host, Rollout
from codex_runner.domain.scheduling import busy_by_graph, pick_next
from codex_runner.domain.task import (
    ACTIVE_STATES,
    RuntimeSettings,
    Task,
    TaskState,
    WorkspaceRequest,
)
from codex_runner.domain.task_options import SessionOptions, TurnOverrides
from codex_runner.domain.transitions import Action
from codex_runner.store import (
    ApprovalAlreadyExists,
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    GraphAlreadyExists,
    InMemoryStore,
    InvalidGraph,
    Store,
    StoreClosed,
    TaskAlreadyExists,
    TaskConflict,
    TaskNotFound,
    TaskUpdate,
    ThreadOwnedElsewhere,
    UnknownDependency,
)
from codex_runner.store.sql import SqlStore

from ...support.postgres import PostgresServer

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Harness:
    """Opens the store under test; ``reopen`` simulates a restart where that means something."""

    def __init__(self, kind: str, path: Path, target: str | None = None) -> None:
        self.kind = kind
        # A SQLite file, or a fresh PostgreSQL database's URL.
        self.path = target if target is not None else path / "runner.sqlite"
        self.persistent = kind != "memory"
        self._memory = InMemoryStore()
        self.opened: list[Store] = []

    async def open(self) -> Store:
        store: Store = self._memory if self.kind == "memory" else await SqlStore.open(self.path)
        self.opened.append(store)
        return store

    async def reopen(self, store: Store) -> Store:
        await store.close()
        if self.kind == "memory":
            self._memory = InMemoryStore()  # memory does not survive a restart
        return await self.open()

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    target = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        target = server.new_database()
    h = Harness(request.param, tmp_path, target)
    yield h
    await h.close_all()


@pytest.fixture
async def store(harness: Harness) -> Store:
    return await harness.open()


@pytest.fixture
def clock() -> Callable[[], datetime]:
    ticks = itertools.count()
    return lambda: T0 + timedelta(seconds=next(ticks))


@pytest.fixture
def make_task(clock: Callable[[], datetime]) -> Callable[..., Task]:
    numbers = itertools.count(1)

    def make(**fields: Any) -> Task:
        now = clock()
        base: dict[str, Any] = {
            "id": f"t_{next(numbers):04d}",
            "prompt": "fix the bug",
            "workspace": WorkspaceRequest.directory("/w"),
            "created_at": now,
            "updated_at": now,
        }
        base.update(fields)
        return Task(**base)

    return make


def event(n: int = 0, **data: Any) -> NewEvent:
    return NewEvent("codex.item.completed", T0, {"n": n, **data})


async def seqs_of(store: Store, task_id: str) -> list[int]:
    return [e.seq for e in await store.read_events(task_id, limit=100_000)]


# --- tasks ------------------------------------------------------------------------------------


async def test_a_created_task_reads_back_equal_with_task_created_as_event_one(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = make_task(
        workspace=WorkspaceRequest.git("/repo", "main"),
        priority=4,
        settings=RuntimeSettings("gpt-x", "high", "workspace-write", "on-request"),
        reason="submitted by ci",
        thread_id="th_1",
        usage=TokenUsage(1, 2, 3, 4, 10),
        final_message="m",
        branch="codex-runner/t_0001",
        diff_summary="1 file",
        max_runtime_s=60.5,
        idempotency_key="req-1",
        idempotency_fingerprint="f" * 64,
        workspace_collected_at=T0 + timedelta(seconds=3),
        attempts=2,
        pending_message="more",
        pending_images=("/tmp/a.png", "/tmp/b.jpg"),
        runs_codex=False,
        started_at=T0,
        finished_at=T0 + timedelta(microseconds=7),
        session=SessionOptions(
            developer_instructions="be brief",
            personality="pragmatic",
            config={"features.web_search": True, "model_verbosity": "low"},
            ephemeral=True,
            runtime="exec",
        ),
        purpose="review",
        metadata={"ticket": "ENG-1", "pr.number": "42"},
        next_turn=TurnOverrides(effort="high", cwd="src", output_schema={"type": "object"}),
        result_json='{"ok":true}',
    )
    await store.create_task(task)
    assert await store.get_task(task.id) == task
    (created,) = await store.read_events(task.id)
    assert (created.task_id, created.seq, created.type) == (task.id, 1, "task.created")
    assert created.data == de.task_created(task).data
    assert await store.last_seq(task.id) == 1


async def test_unknown_task_reads_as_none(store: Store) -> None:
    assert await store.get_task("t_missing") is None
    assert await store.read_events("t_missing") == []
    assert await store.last_seq("t_missing") == 0


async def test_a_task_id_is_used_once(store: Store, make_task: Callable[..., Task]) -> None:
    task = make_task()
    await store.create_task(task)
    with pytest.raises(TaskAlreadyExists):
        await store.create_task(replace(task, prompt="other"))
    assert (await store.get_task(task.id)) == task
    assert await seqs_of(store, task.id) == [1]


async def test_idempotency_key_names_the_existing_task(
    store: Store, make_task: Callable[..., Task]
) -> None:
    first = make_task(idempotency_key="k-1")
    await store.create_task(first)
    with pytest.raises(DuplicateIdempotencyKey) as caught:
        await store.create_task(make_task(idempotency_key="k-1"))
    assert (caught.value.key, caught.value.existing_task_id) == ("k-1", first.id)
    assert await store.find_by_idempotency_key("k-1") == first
    assert await store.find_by_idempotency_key("k-2") is None
    assert sum((await store.count_by_state()).values()) == 1


async def test_racing_creates_with_one_idempotency_key_make_one_task(
    store: Store, make_task: Callable[..., Task]
) -> None:
    candidates = [make_task(idempotency_key="same") for _ in range(20)]
    results = await asyncio.gather(
        *(store.create_task(t) for t in candidates), return_exceptions=True
    )
    winners = [t for t, r in zip(candidates, results, strict=True) if r is None]
    assert len(winners) == 1
    losers = [r for r in results if r is not None]
    assert all(isinstance(r, DuplicateIdempotencyKey) for r in losers)
    assert {r.existing_task_id for r in losers if isinstance(r, DuplicateIdempotencyKey)} == {
        winners[0].id
    }
    assert await store.find_by_idempotency_key("same") == winners[0]


async def test_a_dependency_must_exist(store: Store, make_task: Callable[..., Task]) -> None:
    task = make_task(depends_on=("t_nowhere",))
    with pytest.raises(UnknownDependency, match="t_nowhere"):
        await store.create_task(task)
    assert await store.get_task(task.id) is None


# --- compare-and-set updates ------------------------------------------------------------------


async def test_update_writes_when_the_state_is_as_expected_and_appends_events_atomically(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = make_task()
    await store.create_task(task)
    started, change = de.transition(task, Action.START, now=clock())
    started = replace(started, thread_id="th_9", usage=TokenUsage(total_tokens=5))
    assert await store.update_task(started, expected_state=S.QUEUED, events=[change]) == [2]
    assert await store.get_task(task.id) == started
    (_, stored) = await store.read_events(task.id)
    assert (stored.type, stored.data["to"]) == ("task.state_changed", "running")


async def test_a_stale_update_raises_a_conflict_and_writes_nothing(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = make_task()
    await store.create_task(task)
    cancelled, change = de.transition(task, Action.CANCEL, now=clock())
    await store.update_task(cancelled, expected_state=S.QUEUED, events=[change])
    started, start_event = de.transition(task, Action.START, now=clock())  # from a stale read
    with pytest.raises(TaskConflict) as caught:
        await store.update_task(started, expected_state=S.QUEUED, events=[start_event])
    assert (caught.value.expected, caught.value.actual) == (S.QUEUED, S.CANCELLED)
    assert await store.get_task(task.id) == cancelled
    assert await seqs_of(store, task.id) == [1, 2]


async def test_racing_starts_of_one_task_let_exactly_one_through(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = make_task()
    await store.create_task(task)
    attempts = [de.transition(task, Action.START, now=clock(), reason=str(i)) for i in range(10)]
    results = await asyncio.gather(
        *(store.update_task(t, expected_state=S.QUEUED, events=[e]) for t, e in attempts),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, TaskConflict) for r in results) == 9
    assert await seqs_of(store, task.id) == [1, 2]


async def test_update_of_an_unknown_task(store: Store, make_task: Callable[..., Task]) -> None:
    with pytest.raises(TaskNotFound):
        await store.update_task(make_task(), expected_state=S.QUEUED)


async def test_a_batch_update_writes_every_task_and_numbers_each_tasks_events(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    made = [await put(store, make_task()) for _ in range(3)]
    changes = [de.transition(t, Action.START, now=clock()) for t in made]
    seqs = await store.update_tasks(
        [
            TaskUpdate(after, S.QUEUED, [change, *([event(1)] if i == 1 else [])])
            for i, (after, change) in enumerate(changes)
        ]
    )
    assert seqs == [[2], [2, 3], [2]]
    for (after, _), task in zip(changes, made, strict=True):
        assert await store.get_task(task.id) == after
    assert await seqs_of(store, made[1].id) == [1, 2, 3]
    assert await store.update_tasks([]) == []


async def test_a_batch_with_one_stale_or_unknown_task_writes_nothing(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    fresh, stale = await put(store, make_task()), await put(store, make_task())
    cancelled, change = de.transition(stale, Action.CANCEL, now=clock())
    await store.update_task(cancelled, expected_state=S.QUEUED, events=[change])
    batch = [
        TaskUpdate(de.transition(fresh, Action.START, now=clock())[0], S.QUEUED),
        TaskUpdate(de.transition(stale, Action.START, now=clock())[0], S.QUEUED),
    ]
    with pytest.raises(TaskConflict) as caught:
        await store.update_tasks(batch)
    assert (caught.value.task_id, caught.value.actual) == (stale.id, S.CANCELLED)
    assert await store.get_task(fresh.id) == fresh
    assert await seqs_of(store, fresh.id) == [1]
    with pytest.raises(TaskNotFound):
        await store.update_tasks([batch[0], TaskUpdate(make_task(), S.QUEUED)])
    assert await store.get_task(fresh.id) == fresh
    with pytest.raises(ValueError, match="more than once"):
        await store.update_tasks([batch[0], batch[0]])


async def test_update_never_rewrites_identity_fields(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = make_task(idempotency_key="k", idempotency_fingerprint="a" * 64)
    await store.create_task(task)
    changed = replace(task, prompt="new prompt", idempotency_key="other", key="x", graph_id=None)
    changed = replace(changed, created_at=T0 - timedelta(days=1), idempotency_fingerprint="b")
    changed = replace(changed, workspace_collected_at=T0)
    await store.update_task(changed, expected_state=S.QUEUED)
    stored = await store.get_task(task.id)
    assert stored is not None
    assert (stored.prompt, stored.workspace_collected_at) == ("new prompt", T0)
    assert (stored.idempotency_key, stored.key, stored.created_at) == ("k", None, task.created_at)
    assert stored.idempotency_fingerprint == "a" * 64


# --- events -----------------------------------------------------------------------------------


async def test_seqs_stay_gapless_under_many_concurrent_writers(
    store: Store, make_task: Callable[..., Task]
) -> None:
    tasks = [make_task() for _ in range(30)]
    for task in tasks:
        await store.create_task(task)
    rng = random.Random(7)
    jobs = [
        (task.id, [event(i) for i in range(rng.randint(1, 5))]) for task in tasks for _ in range(10)
    ]
    rng.shuffle(jobs)
    assigned = await asyncio.gather(*(store.append_events(tid, evs) for tid, evs in jobs))
    for task in tasks:
        total = 1 + sum(len(evs) for tid, evs in jobs if tid == task.id)
        assert await seqs_of(store, task.id) == list(range(1, total + 1))
        mine = sorted(
            s for (tid, _), seqs in zip(jobs, assigned, strict=True) for s in seqs if tid == task.id
        )
        assert mine == list(range(2, total + 1))
    for (_, evs), seqs in zip(jobs, assigned, strict=True):
        assert seqs == list(range(seqs[0], seqs[0] + len(evs)))  # one batch, consecutive


async def test_a_failing_write_does_not_undo_concurrent_ones(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    await store.create_task(task)
    calls = [store.append_events(task.id if i % 2 else "t_missing", [event(i)]) for i in range(20)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, TaskNotFound) for r in results[0::2])
    assert all(isinstance(r, list) for r in results[1::2])
    assert await seqs_of(store, task.id) == list(range(1, 12))


async def test_events_read_back_in_pages_with_json_data(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    await store.create_task(task)
    at = T0 + timedelta(microseconds=123)
    batch = [
        NewEvent("codex.item.completed", at, {"n": i, "t": (1, "x"), "d": {"k": None}})
        for i in range(10)
    ]
    assert await store.append_events(task.id, batch) == list(range(2, 12))
    page = await store.read_events(task.id, after_seq=3, limit=4)
    assert [e.seq for e in page] == [4, 5, 6, 7]
    assert page[0].data == {"n": 2, "t": [1, "x"], "d": {"k": None}}
    assert page[0].at == at and page[0].type == "codex.item.completed"
    assert await store.read_events(task.id, after_seq=11) == []
    assert await store.last_seq(task.id) == 11


async def test_appending_to_an_unknown_task_fails(store: Store) -> None:
    with pytest.raises(TaskNotFound):
        await store.append_events("t_missing", [event()])
    with pytest.raises(TaskNotFound):
        await store.append_events("t_missing", [])


async def test_appending_nothing_returns_nothing(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    await store.create_task(task)
    assert await store.append_events(task.id, []) == []
    assert await store.update_task(task, expected_state=S.QUEUED) == []
    assert await store.last_seq(task.id) == 1


# --- listing and the queue --------------------------------------------------------------------


async def put(store: Store, task: Task) -> Task:
    await store.create_task(task)
    return task


async def test_list_filter_order_and_pages(store: Store, make_task: Callable[..., Task]) -> None:
    made = [await put(store, make_task(state=s)) for s in [S.QUEUED, S.RUNNING, S.FAILED] * 3]
    newest_first = list(reversed(made))
    assert await store.list_tasks() == newest_first
    assert await store.list_tasks(limit=2, offset=1) == newest_first[1:3]
    running = await store.list_tasks(states=[S.RUNNING, S.FAILED])
    assert running == [t for t in newest_first if t.state is not S.QUEUED]
    assert await store.list_tasks(states=[]) == []
    assert await store.tasks_in_states(ACTIVE_STATES) == [t for t in made if t.state is S.RUNNING]
    counts = await store.count_by_state()
    assert counts == {**dict.fromkeys(TaskState, 0), S.QUEUED: 3, S.RUNNING: 3, S.FAILED: 3}
    wanted = [made[0].id, made[1].id, "t_missing"]
    assert await store.states_of(wanted) == {made[0].id: S.QUEUED, made[1].id: S.RUNNING}


async def test_list_filters_by_purpose_and_every_metadata_key(
    store: Store, make_task: Callable[..., Task]
) -> None:
    a = await put(store, make_task(purpose="review", metadata={"team": "core", "pr": "1"}))
    b = await put(store, make_task(purpose="review", metadata={"team": "web", "pr": "2"}))
    c = await put(store, make_task(metadata={"team": "core", "odd key.x": 'it\'s "q"'}))
    assert await store.list_tasks(purpose="review") == [b, a]
    assert await store.list_tasks(metadata={"team": "core"}) == [c, a]
    assert await store.list_tasks(purpose="review", metadata={"team": "core", "pr": "1"}) == [a]
    assert await store.list_tasks(metadata={"team": "core", "pr": "2"}) == []
    assert await store.list_tasks(metadata={"odd key.x": 'it\'s "q"'}) == [c]
    assert await store.list_tasks(purpose="other") == []


async def test_next_queued_is_priority_then_fifo_and_only_ready_tasks(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    low_old = await put(store, make_task(priority=0))
    high = await put(store, make_task(priority=5))
    prereq = await put(store, make_task(priority=1))
    waiting = await put(store, make_task(priority=9, depends_on=(prereq.id,)))
    low_new = await put(store, make_task(priority=0))
    await put(store, make_task(priority=99, state=S.RUNNING))
    assert await store.next_queued(10) == [high, prereq, low_old, low_new]
    assert await store.next_queued(2) == [high, prereq]

    running, e1 = de.transition(prereq, Action.START, now=clock())
    await store.update_task(running, expected_state=S.QUEUED, events=[e1])
    done, e2 = de.transition(running, Action.COMPLETE, now=clock())
    await store.update_task(done, expected_state=S.RUNNING, events=[e2])
    assert await store.next_queued(10) == [waiting, high, low_old, low_new]


async def test_next_queued_follows_the_one_queue_rule_of_domain_scheduling(
    store: Store, make_task: Callable[..., Task]
) -> None:
    # Ties on priority and on created_at, ids out of creation order, every state, and
    # prerequisites in any state: the store must agree with pick_next on all of it.
    rng = random.Random(15)
    made: list[Task] = []
    for n in range(60):
        prerequisites = rng.sample([t.id for t in made], k=min(len(made), rng.choice([0, 0, 1, 2])))
        made.append(
            await put(
                store,
                make_task(
                    id=f"t_{rng.randrange(10_000):04d}_{n:02d}",
                    priority=rng.randint(-2, 2),
                    created_at=T0 + timedelta(seconds=rng.randint(0, 5)),
                    state=rng.choice(list(TaskState)),
                    depends_on=tuple(prerequisites),
                ),
            )
        )
    states = {t.id: t.state for t in made}
    for limit in (0, 1, 3, len(made)):
        expected = pick_next(made, active=0, max_concurrent=limit, states=states)
        assert await store.next_queued(limit) == expected


# --- approvals --------------------------------------------------------------------------------


def make_approval(task_id: str, n: int, at: datetime) -> Approval:
    return Approval(
        id=f"a_{n:04d}",
        task_id=task_id,
        request_id=f"req-{n}",
        kind=ApprovalKind.COMMAND,
        created_at=at,
        thread_id="th",
        turn_id="tu",
        item_id="it",
        command="make deploy",
        cwd="/w",
        reason="deploys",
        changes=(FileChange("a", "update", "diff"),),
        available_decisions=("accept", "decline", "cancel"),
    )


async def test_an_approval_is_stored_pending_and_recorded(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = await put(store, make_task())
    approval = make_approval(task.id, 1, clock())
    assert await store.create_approval(approval) == 2
    assert await store.get_approval(approval.id) == approval
    assert await store.get_approval("a_missing") is None
    (_, requested) = await store.read_events(task.id)
    assert requested.type == "approval.requested"
    assert requested.data["approval_id"] == approval.id
    with pytest.raises(ApprovalAlreadyExists):
        await store.create_approval(approval)
    with pytest.raises(TaskNotFound):
        await store.create_approval(replace(approval, id="a_other", task_id="t_missing"))


async def test_pending_approvals_oldest_first_and_per_task(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    one, two = await put(store, make_task()), await put(store, make_task())
    approvals = [make_approval(t.id, n, clock()) for n, t in enumerate([two, one, two])]
    for a in reversed(approvals):
        await store.create_approval(a)
    assert await store.list_pending_approvals() == approvals
    assert await store.list_pending_approvals(task_id=two.id) == [approvals[0], approvals[2]]


async def test_deciding_records_the_decision(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = await put(store, make_task())
    approval = make_approval(task.id, 1, clock())
    await store.create_approval(approval)
    now = clock()
    decided = await store.decide_approval(approval.id, "decline", by="alice", now=now)
    assert (decided.state, decided.decision, decided.decided_by) == (
        ApprovalState.DECIDED,
        "decline",
        "alice",
    )
    assert await store.get_approval(approval.id) == decided
    assert await store.list_pending_approvals() == []
    last = (await store.read_events(task.id))[-1]
    assert (last.type, last.data) == (
        "approval.decided",
        {"approval_id": approval.id, "decision": "decline", "by": "alice"},
    )


async def test_a_decision_not_offered_changes_nothing(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = await put(store, make_task())
    approval = make_approval(task.id, 1, clock())
    await store.create_approval(approval)
    with pytest.raises(DecisionNotOffered):
        await store.decide_approval(approval.id, "maybe", by="alice", now=clock())
    assert await store.get_approval(approval.id) == approval
    assert await store.last_seq(task.id) == 2
    with pytest.raises(ApprovalNotFound):
        await store.decide_approval("a_missing", "accept", by="alice", now=clock())


async def test_racing_deciders_one_wins_the_rest_learn_the_decision(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task = await put(store, make_task())
    approval = make_approval(task.id, 1, clock())
    await store.create_approval(approval)
    now = clock()
    results = await asyncio.gather(
        *(
            store.decide_approval(approval.id, ("accept", "decline")[i % 2], by=f"u{i}", now=now)
            for i in range(12)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Approval)]
    assert len(winners) == 1
    assert all(isinstance(r, ApprovalAlreadySettled) for r in results if r not in winners)
    assert await store.get_approval(approval.id) == winners[0]
    types = [e.type for e in await store.read_events(task.id)]
    assert types.count("approval.decided") == 1


async def test_expiring_settles_only_pending_approvals_of_the_task(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task, other = await put(store, make_task()), await put(store, make_task())
    first, second, decided, elsewhere = (
        make_approval(task.id, 1, clock()),
        make_approval(task.id, 2, clock()),
        make_approval(task.id, 3, clock()),
        make_approval(other.id, 4, clock()),
    )
    for a in (first, second, decided, elsewhere):
        await store.create_approval(a)
    await store.decide_approval(decided.id, "accept", by="bob", now=clock())
    now = clock()
    expired = await store.expire_approvals(task.id, now=now)
    assert [a.id for a in expired] == [first.id, second.id]
    assert all(a.state is ApprovalState.EXPIRED and a.decided_at == now for a in expired)
    assert await store.list_pending_approvals() == [elsewhere]
    assert [e.type for e in await store.read_events(task.id)][-2:] == ["approval.expired"] * 2
    with pytest.raises(ApprovalAlreadySettled):
        await store.decide_approval(first.id, "accept", by="late", now=clock())
    assert await store.expire_approvals(task.id, now=clock()) == []


async def test_expiring_for_several_tasks_at_once(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    one, two, other = [await put(store, make_task()) for _ in range(3)]
    approvals = [
        make_approval(two.id, 1, clock()),
        make_approval(one.id, 2, clock()),
        make_approval(one.id, 3, clock()),
        make_approval(other.id, 4, clock()),
    ]
    for a in approvals:
        await store.create_approval(a)
    now = clock()
    expired = await store.expire_approvals_of([one.id, two.id, one.id], now=now)
    assert [a.id for a in expired] == ["a_0001", "a_0002", "a_0003"]  # oldest first
    assert await store.list_pending_approvals() == [approvals[3]]
    kinds = [e.type for e in await store.read_events(one.id)]
    assert kinds.count("approval.expired") == 2
    assert await seqs_of(store, one.id) == list(range(1, len(kinds) + 1))
    assert await store.expire_approvals_of([one.id, two.id], now=clock()) == []


# --- graphs -----------------------------------------------------------------------------------


def plan_for(make_task: Callable[..., Task], graph_id: str = "g_0001", **parent: Any) -> GraphPlan:
    spec = GraphSpec(
        (
            ChildSpec("build", "build"),
            ChildSpec("test", "test", ("build",)),
            ChildSpec("docs", "docs"),
        )
    )
    ids = iter(f"t_{graph_id}_{k}" for k in ("build", "test", "docs"))
    return instantiate(
        spec,
        make_task(**parent),
        graph_id=graph_id,
        new_task_id=lambda: next(ids),
        now=T0 + timedelta(hours=1),
    )


async def test_a_graph_is_created_with_parent_children_and_events(
    store: Store, make_task: Callable[..., Task]
) -> None:
    plan = plan_for(make_task, idempotency_key="graph-1")
    await store.create_graph(plan)
    assert await store.get_graph(plan.graph.id) == plan.graph
    assert await store.get_graph("g_missing") is None
    members = await store.list_tasks(graph_id=plan.graph.id)
    assert {t.id for t in members} == {plan.parent.id, *(c.id for c in plan.children)}
    assert await store.get_task(plan.parent.id) == plan.parent
    for child in plan.children:
        assert await store.get_task(child.id) == child
        assert [e.type for e in await store.read_events(child.id)] == ["task.created"]
    parent_events = await store.read_events(plan.parent.id)
    assert [e.type for e in parent_events] == ["task.created", "graph.created"]
    assert parent_events[1].data["children"] == {c.key: c.id for c in plan.children}
    assert await store.find_by_idempotency_key("graph-1") == plan.parent
    build, _test, docs = plan.children
    ready = {t.id for t in await store.next_queued(10)}
    assert ready == {build.id, docs.id}  # the parent runs after every child


async def test_a_failing_graph_creation_leaves_nothing_behind(
    store: Store, make_task: Callable[..., Task]
) -> None:
    taken = await put(store, make_task(idempotency_key="taken"))
    plan = plan_for(make_task)
    last = replace(plan.children[-1], idempotency_key="taken")
    bad = replace(plan, children=(*plan.children[:-1], last))
    with pytest.raises(DuplicateIdempotencyKey) as caught:
        await store.create_graph(bad)
    assert caught.value.existing_task_id == taken.id
    assert await store.get_graph(plan.graph.id) is None
    for task in (plan.parent, *plan.children):
        assert await store.get_task(task.id) is None
        assert await store.read_events(task.id) == []
    assert await store.list_tasks() == [taken]
    clashing = (*plan.children[:-1], replace(last, id=taken.id, idempotency_key=None))
    clash = replace(
        plan,
        parent=replace(plan.parent, depends_on=tuple(c.id for c in clashing)),
        children=clashing,
    )
    with pytest.raises(TaskAlreadyExists):
        await store.create_graph(clash)
    await store.create_graph(plan)  # the good plan still goes in whole
    with pytest.raises(GraphAlreadyExists):
        await store.create_graph(plan_for(make_task, graph_id=plan.graph.id))


async def test_a_graph_plan_that_does_not_fit_together_is_refused(
    store: Store, make_task: Callable[..., Task]
) -> None:
    plan = plan_for(make_task)
    outsider = replace(plan.children[0], depends_on=("t_elsewhere",))
    bad_plans = [
        replace(plan, children=(outsider, *plan.children[1:])),
        replace(plan, children=()),
        replace(plan, parent=replace(plan.parent, graph_id="g_other")),
        replace(plan, children=(*plan.children, plan.children[0])),
    ]
    for bad in bad_plans:
        with pytest.raises(InvalidGraph):
            await store.create_graph(bad)
    assert await store.list_tasks() == []


# --- threads and turns ------------------------------------------------------------------------


async def test_threads_find_their_task(store: Store, make_task: Callable[..., Task]) -> None:
    task, other = await put(store, make_task()), await put(store, make_task())
    record = ThreadRecord("th_1", task.id, T0)
    await store.record_thread(record)
    await store.record_thread(record)  # again: nothing happens
    await store.record_thread(ThreadRecord("th_2", task.id, T0, replaces="th_1"))
    assert await store.find_task_by_thread("th_1") == task
    assert await store.find_task_by_thread("th_2") == task
    assert await store.find_task_by_thread("th_x") is None
    with pytest.raises(ThreadOwnedElsewhere):
        await store.record_thread(ThreadRecord("th_1", other.id, T0))
    with pytest.raises(TaskNotFound):
        await store.record_thread(ThreadRecord("th_3", "t_missing", T0))


async def test_an_update_can_record_the_tasks_thread_in_the_same_transaction(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    task, other = await put(store, make_task()), await put(store, make_task())
    await store.record_thread(ThreadRecord("th_other", other.id, T0))
    started, change = de.transition(task, Action.START, now=clock())

    # A thread another task owns: nothing is written, neither the task nor its event.
    with pytest.raises(ThreadOwnedElsewhere):
        await store.update_task(
            replace(started, thread_id="th_other"),
            expected_state=S.QUEUED,
            events=[change],
            thread=ThreadRecord("th_other", task.id, T0),
        )
    assert await store.get_task(task.id) == task
    assert await seqs_of(store, task.id) == [1]

    # A stale state: the thread is not recorded either.
    with pytest.raises(TaskConflict):
        await store.update_task(
            replace(started, thread_id="th_1"),
            expected_state=S.RUNNING,
            thread=ThreadRecord("th_1", task.id, T0),
        )
    assert await store.find_task_by_thread("th_1") is None

    saved = replace(started, thread_id="th_1")
    seqs = await store.update_task(
        saved, expected_state=S.QUEUED, events=[change], thread=ThreadRecord("th_1", task.id, T0)
    )
    assert seqs == [2]
    assert await store.get_task(task.id) == saved
    assert await store.find_task_by_thread("th_1") == saved


async def test_turns_are_saved_replaced_and_listed_by_number(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = await put(store, make_task())
    second = Turn(task.id, 2, "and the docs", T0 + timedelta(hours=1))
    first = Turn(task.id, 1, "fix it", T0, thread_id="th", codex_turn_id="tu1")
    await store.save_turn(second)
    await store.save_turn(first)
    finished = replace(
        first,
        state=TurnState.FAILED,
        finished_at=T0 + timedelta(minutes=5),
        usage=TokenUsage(1, 0, 2, 0, 3),
        error="model error",
        final_message="I fixed half of it",
        auth_profile="work",
    )
    await store.save_turn(finished)
    assert await store.list_turns(task.id) == [finished, second]
    assert await store.list_turns("t_missing") == []
    with pytest.raises(TaskNotFound):
        await store.save_turn(replace(first, task_id="t_missing"))


async def test_the_last_thread_run_used_in_a_directory_is_kept_per_path(store: Store) -> None:
    assert await store.directory_thread("/work/a") is None
    await store.record_directory_thread("/work/a", "th_1", T0)
    await store.record_directory_thread("/work/b", "th_2", T0)
    await store.record_directory_thread("/work/a", "th_3", T0 + timedelta(minutes=1))
    assert await store.directory_thread("/work/a") == "th_3"
    assert await store.directory_thread("/work/b") == "th_2"
    assert await store.directory_thread("/work/a/sub") is None


# --- lifecycle --------------------------------------------------------------------------------


async def test_a_closed_store_refuses_work(store: Store, make_task: Callable[..., Task]) -> None:
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.create_task(make_task())
    with pytest.raises(StoreClosed):
        await store.get_task("t_1")


async def test_everything_survives_a_reopen(
    harness: Harness, store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    if not harness.persistent:
        pytest.skip("the in-memory store keeps nothing across a restart")
    task = await put(store, make_task(idempotency_key="k"))
    running, change = de.transition(task, Action.START, now=clock())
    await store.update_task(running, expected_state=S.QUEUED, events=[change, event(1)])
    approval = make_approval(task.id, 1, clock())
    await store.create_approval(approval)
    plan = plan_for(make_task)
    await store.create_graph(plan)
    await store.record_thread(ThreadRecord("th_1", task.id, T0))
    await store.save_turn(Turn(task.id, 1, "fix", T0))
    await store.record_directory_thread("/work/a", "th_9", T0)
    before = await store.read_events(task.id)

    store = await harness.reopen(store)
    assert await store.get_task(task.id) == running
    assert await store.find_by_idempotency_key("k") == running
    assert await store.read_events(task.id) == before
    assert await store.list_pending_approvals() == [approval]
    assert await store.get_graph(plan.graph.id) == plan.graph
    assert await store.find_task_by_thread("th_1") == running
    assert await store.tasks_in_states(ACTIVE_STATES) == [running]
    assert await store.directory_thread("/work/a") == "th_9"
    assert await store.append_events(task.id, [event(2)]) == [len(before) + 1]


# --- a graph's max_concurrent -----------------------------------------------------------------


def limited_plan(make_task: Callable[..., Task], limit: int | None, graph_id: str) -> GraphPlan:
    spec = GraphSpec(tuple(ChildSpec(k, k) for k in ("a", "b", "c")))
    ids = iter(f"t_{graph_id}_{k}" for k in ("a", "b", "c"))
    return instantiate(
        spec,
        make_task(),
        graph_id=graph_id,
        new_task_id=lambda: next(ids),
        now=T0 + timedelta(hours=1),
        max_concurrent=limit,
    )


async def test_a_graph_keeps_its_max_concurrent(
    store: Store, make_task: Callable[..., Task]
) -> None:
    plan = limited_plan(make_task, 2, "g_limited")
    await store.create_graph(plan)
    assert await store.get_graph("g_limited") == plan.graph
    assert plan.graph.max_concurrent == 2


async def test_next_queued_starts_no_more_of_a_graph_than_its_max_concurrent(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    limited = limited_plan(make_task, 1, "g_1one")
    free = limited_plan(make_task, None, "g_2free")
    await store.create_graph(limited)
    await store.create_graph(free)
    a, b, _c = limited.children
    free_ids = [t.id for t in free.children]
    # Queue order otherwise: the limited graph's first child, then the other graph's three.
    assert [t.id for t in await store.next_queued(10)] == [a.id, *free_ids]

    running, e1 = de.transition(a, Action.START, now=clock())
    await store.update_task(running, expected_state=S.QUEUED, events=[e1])
    assert [t.id for t in await store.next_queued(10)] == free_ids  # g_1one is full
    parked, e2 = de.transition(running, Action.PARK_FOR_APPROVAL, now=clock())
    await store.update_task(parked, expected_state=S.RUNNING, events=[e2])
    assert [t.id for t in await store.next_queued(10)] == free_ids  # waiting still holds it

    stopped, e3 = de.transition(parked, Action.INTERRUPT, now=clock())
    await store.update_task(stopped, expected_state=S.AWAITING_APPROVAL, events=[e3])
    assert [t.id for t in await store.next_queued(10)] == [b.id, *free_ids]
    assert [t.id for t in await store.next_queued(2)] == [b.id, free_ids[0]]


async def test_next_queued_follows_pick_next_with_graph_limits(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    rng = random.Random(18)
    members: list[Task] = []
    limits: dict[str, int] = {}
    for n in range(6):
        limit = rng.choice([None, 1, 2, 3])
        plan = limited_plan(make_task, limit, f"g_{n:02d}")
        plan = replace(
            plan,
            children=tuple(
                replace(c, priority=rng.randint(-1, 1), state=rng.choice(list(TaskState)))
                for c in plan.children
            ),
        )
        await store.create_graph(plan)
        members += [plan.parent, *plan.children]
        if limit is not None:
            limits[plan.graph.id] = limit
    members += [await put(store, make_task(priority=rng.randint(-1, 1))) for _ in range(5)]
    states = {t.id: t.state for t in members}
    busy = busy_by_graph(members)
    for limit in (0, 1, 4, len(members)):
        expected = pick_next(
            members,
            active=0,
            max_concurrent=limit,
            states=states,
            graph_limits=limits,
            busy=busy,
        )
        assert await store.next_queued(limit) == expected


# --- a graph's progress on its parent ---------------------------------------------------------


async def test_a_graph_tasks_state_change_records_the_graphs_progress_in_the_same_write(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    plan = plan_for(make_task)  # build; test needs build; docs
    await store.create_graph(plan)
    build, test, _docs = plan.children
    told: list[TaskEvent] = []
    running, e1 = de.transition(build, Action.START, now=clock())
    await store.update_task(running, expected_state=S.QUEUED, events=[e1], graph_events=told)
    done, e2 = de.transition(running, Action.COMPLETE, now=clock())
    await store.update_task(done, expected_state=S.RUNNING, events=[e2], graph_events=told)
    saved = replace(done, final_message="built")  # no change of state: nothing to tell
    await store.update_task(saved, expected_state=S.COMPLETED, graph_events=told)

    assert [(e.type, e.data.get("key")) for e in told] == [
        ("graph.child_started", "build"),
        ("graph.child_completed", "build"),
        ("graph.dependency_satisfied", "test"),
    ]
    parent_log = await store.read_events(plan.parent.id)
    assert parent_log[2:] == told  # committed on the parent, numbered after graph.created
    assert [e.seq for e in parent_log] == [1, 2, 3, 4, 5]
    stream = await store.read_graph_events(plan.parent.id)
    assert [e.type for e in stream] == ["graph.created", *(e.type for e in told)]
    assert await store.read_graph_events(plan.parent.id, skip=2, limit=1) == [told[1]]
    assert await store.read_graph_events(plan.parent.id, skip=9) == []
    assert [e.type for e in await store.read_events(build.id)] == [
        "task.created",
        "task.state_changed",
        "task.state_changed",
    ]
    assert test.id == told[2].data["task_id"]


async def test_a_batch_records_each_changes_progress_and_a_failed_write_records_none(
    store: Store, make_task: Callable[..., Task], clock: Callable[[], datetime]
) -> None:
    plan = plan_for(make_task)
    await store.create_graph(plan)
    build, test, docs = plan.children
    cancels = [
        TaskUpdate(after, task.state, (event,))
        for task in (build, test, docs)
        for after, event in [de.transition(task, Action.CANCEL, now=clock())]
    ]
    stale = TaskUpdate(cancels[0].task, S.RUNNING, cancels[0].events)
    told: list[TaskEvent] = []
    with pytest.raises(TaskConflict):
        await store.update_tasks([stale, *cancels[1:]], graph_events=told)
    assert told == []
    assert len(await store.read_graph_events(plan.parent.id)) == 1
    await store.update_tasks(cancels, graph_events=told)
    assert [(e.type, e.data["key"], e.data["state"]) for e in told] == [
        ("graph.child_failed", k, "cancelled") for k in ("build", "test", "docs")
    ]
    assert (await store.read_graph_events(plan.parent.id))[1:] == told


# --- hosts and leases -------------------------------------------------------------------------


def host(host_id: str, beat: datetime, **fields: Any) -> Host:
    return Host(host_id, f"{host_id}.local", "1.0", 4, T0, beat, **fields)


async def test_a_write_on_an_older_lease_is_refused_even_in_the_same_state(
    store: Store, make_task: Callable[..., Task]
) -> None:
    task = await put(store, make_task(state=S.RUNNING, host_id="a", lease=3))
    taken = replace(task, host_id="b", lease=4)
    await store.update_task(taken, expected_state=S.RUNNING, expected_lease=3)
    stale = replace(task, final_message="from host a")  # still lease 3
    with pytest.raises(TaskConflict):
        await store.update_task(stale, expected_state=S.RUNNING)
    with pytest.raises(TaskConflict):
        await store.update_tasks([TaskUpdate(stale, S.RUNNING)])
    assert await store.get_task(task.id) == taken


async def test_hosts_heartbeat_and_stale_ones_are_marked_dead_once(
    store: Store, make_task: Callable[..., Task]
) -> None:
    await store.save_host(host("a", T0))
    await store.save_host(host("b", T0))
    beat = T0 + timedelta(seconds=30)
    assert (await store.heartbeat("a", beat)) == host("a", beat)
    assert await store.heartbeat("nobody", beat) is None
    cutoff = T0 + timedelta(seconds=20)
    assert await store.mark_dead_hosts(cutoff, beat, except_id="a") == ["b"]
    assert await store.mark_dead_hosts(cutoff, beat, except_id="a") == []  # once
    assert [(h.id, h.dead_at) for h in await store.list_hosts()] == [("a", None), ("b", beat)]
    running = await put(store, make_task(state=S.RUNNING, host_id="b", lease=1))
    waiting = await put(store, make_task(state=S.AWAITING_APPROVAL, host_id="b", lease=2))
    await put(store, make_task(state=S.COMPLETED, host_id="b"))
    await put(store, make_task(state=S.RUNNING, host_id="a"))
    assert await store.active_tasks_of_dead_hosts() == [running, waiting]
    # The dead host registers again: alive, and its row says so.
    await store.save_host(host("b", beat))
    assert (await store.heartbeat("b", beat)) == host("b", beat)


async def test_claims_take_the_first_that_still_match_up_to_the_limit(
    store: Store, make_task: Callable[..., Task]
) -> None:
    first, gone, second, third = [await put(store, make_task()) for _ in range(4)]
    await store.update_task(replace(gone, state=S.CANCELLED), expected_state=S.QUEUED)

    def start(task: Task) -> TaskUpdate:
        after = replace(task, state=S.RUNNING, host_id="h", lease=task.lease + 1)
        return TaskUpdate(after, S.QUEUED, (event(),), task.lease)

    taken = await store.claim_tasks([start(t) for t in (first, gone, second, third)], limit=2)
    assert [(u.task.id, len(seqs)) for u, seqs in taken] == [(first.id, 1), (second.id, 1)]
    assert (await store.get_task(first.id)).lease == 1  # type: ignore[union-attr]
    assert (await store.get_task(third.id)).state is S.QUEUED  # type: ignore[union-attr]
    assert await store.claim_tasks([start(first)], limit=1) == []  # its lease moved on


async def test_a_threads_rollout_copy_is_kept_and_replaced(store: Store) -> None:
    assert await store.load_rollout("th-1") is None
    first = Rollout("th-1", "sessions/2026/01/01/rollout-a-th-1.jsonl", b"\x00zlib", 40, T0)
    await store.save_rollout(first)
    assert await store.load_rollout("th-1") == first
    later = replace(first, content=b"more", size=80, updated_at=T0 + timedelta(seconds=1))
    await store.save_rollout(later)
    assert await store.load_rollout("th-1") == later
