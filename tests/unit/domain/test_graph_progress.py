"""What a graph task's state change tells the graph's stream."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from codex_runner.domain.graph import ChildSpec, GraphPlan, GraphSpec, instantiate
from codex_runner.domain.graph_progress import GRAPH_STREAM_TYPES, progress_events
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def plan() -> GraphPlan:
    """a and b first; c needs both; d needs a."""
    spec = GraphSpec(
        (
            ChildSpec("a", "a"),
            ChildSpec("b", "b"),
            ChildSpec("c", "c", ("a", "b")),
            ChildSpec("d", "d", ("a",)),
        )
    )
    ids = iter(f"t_{n}" for n in range(10))
    parent = Task(
        id="t_parent",
        prompt="p",
        workspace=WorkspaceRequest.directory("/w"),
        created_at=T0,
        updated_at=T0,
    )
    return instantiate(spec, parent, graph_id="g_1", new_task_id=lambda: next(ids), now=T0)


def members(p: GraphPlan, **states: TaskState) -> dict[str, Task]:
    tasks = {t.key or "parent": t for t in (p.parent, *p.children)}
    return {k: replace(t, state=states.get(k, t.state)) for k, t in tasks.items()}


def kinds(
    before: TaskState, key: str, p: GraphPlan, **states: TaskState
) -> list[tuple[str, object]]:
    now = members(p, **states)
    events = progress_events(before, now[key], now.values())
    assert {e.type for e in events} <= GRAPH_STREAM_TYPES
    return [(e.type, e.data.get("key")) for e in events]


def test_a_child_leaving_the_queue_has_started() -> None:
    p = plan()
    assert kinds(S.QUEUED, "a", p, a=S.RUNNING) == [("graph.child_started", "a")]
    # back from an approval is not a new start
    assert kinds(S.AWAITING_APPROVAL, "a", p, a=S.RUNNING) == []


def test_completing_the_last_prerequisite_satisfies_only_then() -> None:
    p = plan()
    assert kinds(S.RUNNING, "a", p, a=S.COMPLETED, b=S.RUNNING) == [
        ("graph.child_completed", "a"),
        ("graph.dependency_satisfied", "d"),
    ]
    assert kinds(S.RUNNING, "b", p, a=S.COMPLETED, b=S.COMPLETED, d=S.RUNNING) == [
        ("graph.child_completed", "b"),
        ("graph.dependency_satisfied", "c"),
    ]


def test_a_dependent_already_gone_is_not_satisfied_again() -> None:
    p = plan()
    assert kinds(S.RUNNING, "b", p, a=S.COMPLETED, b=S.COMPLETED, c=S.FAILED, d=S.RUNNING) == [
        ("graph.child_completed", "b")
    ]


def test_a_failed_or_cancelled_child_says_so_with_its_reason() -> None:
    p = plan()
    now = members(p, a=S.FAILED)
    now["a"] = replace(now["a"], reason="tests fail")
    (event,) = progress_events(S.RUNNING, now["a"], now.values())
    assert event.type == "graph.child_failed"
    assert event.data == {
        "graph_id": "g_1",
        "task_id": now["a"].id,
        "key": "a",
        "state": "failed",
        "reason": "tests fail",
    }
    assert kinds(S.QUEUED, "b", p, b=S.CANCELLED) == [("graph.child_failed", "b")]


def test_the_parent_ending_ends_the_graph() -> None:
    p = plan()
    done = dict.fromkeys("abcd", S.COMPLETED)
    assert kinds(S.RUNNING, "parent", p, parent=S.COMPLETED, **done) == [("graph.completed", None)]
    assert kinds(S.QUEUED, "parent", p, parent=S.FAILED, a=S.FAILED) == [("graph.failed", None)]
    assert kinds(S.QUEUED, "parent", p, parent=S.CANCELLED) == [("graph.failed", None)]
    assert kinds(S.QUEUED, "parent", p, parent=S.RUNNING, **done) == []


def test_no_change_of_state_and_no_graph_tell_nothing() -> None:
    p = plan()
    assert kinds(S.RUNNING, "a", p, a=S.RUNNING) == []
    lone = replace(p.children[0], graph_id=None, parent_id=None, key=None, state=S.RUNNING)
    assert progress_events(S.QUEUED, lone, [lone]) == []
