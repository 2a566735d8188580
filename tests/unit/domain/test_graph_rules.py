"""Graph specs are validated when built; readiness, blocking and status follow the children."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_runner.domain.graph import (
    ChildSpec,
    DependencyCycle,
    DuplicateKey,
    EmptyGraph,
    GraphSpec,
    GraphSpecError,
    InvalidKey,
    InvalidMaxConcurrent,
    SelfDependency,
    UnknownDependency,
    blocked_by_failure,
    check_max_concurrent,
    find_cycle,
    graph_status,
    instantiate,
    ready_children,
    topological_order,
)
from codex_runner.domain.task import RuntimeSettings, Task, TaskState, WorkspaceRequest

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def spec(*children: tuple[str, tuple[str, ...]]) -> GraphSpec:
    return GraphSpec(tuple(ChildSpec(key, f"do {key}", deps) for key, deps in children))


def test_a_valid_spec_orders_prerequisites_first_keeping_submission_order() -> None:
    graph = spec(("deploy", ("test", "build")), ("build", ()), ("test", ("build",)), ("doc", ()))
    assert graph.topological_order() == ("build", "doc", "test", "deploy")


def test_an_empty_graph_is_refused() -> None:
    with pytest.raises(EmptyGraph):
        GraphSpec(())


def test_an_unknown_reference_is_refused_naming_it_and_the_children() -> None:
    with pytest.raises(UnknownDependency, match=r"'a' depends on 'zzz'.*children: a, b"):
        spec(("a", ("zzz",)), ("b", ()))


def test_self_dependency_is_refused() -> None:
    with pytest.raises(SelfDependency, match="'a' depends on itself"):
        spec(("a", ("a",)))


def test_duplicate_keys_and_duplicate_edges_are_refused() -> None:
    with pytest.raises(DuplicateKey, match="'a'"):
        spec(("a", ()), ("a", ()))
    with pytest.raises(DuplicateKey, match="same dependency twice"):
        spec(("a", ()), ("b", ("a", "a")))


@pytest.mark.parametrize("key", ["", "-a", "a b", "x" * 65, "a/b"])
def test_keys_must_be_short_and_url_safe(key: str) -> None:
    with pytest.raises(InvalidKey):
        spec((key, ()))


def test_an_empty_child_prompt_is_refused() -> None:
    with pytest.raises(GraphSpecError, match="empty prompt"):
        GraphSpec((ChildSpec("a", " "),))


def test_a_cycle_is_refused_and_named() -> None:
    with pytest.raises(DependencyCycle) as caught:
        spec(("a", ("c",)), ("b", ("a",)), ("c", ("b",)), ("d", ()))
    assert caught.value.cycle == ("a", "c", "b", "a")
    assert "a -> c -> b -> a" in str(caught.value)


def test_a_two_node_cycle_behind_a_valid_part_is_found() -> None:
    with pytest.raises(DependencyCycle, match="x -> y -> x"):
        spec(("root", ()), ("x", ("root", "y")), ("y", ("x",)))


def test_ready_children_are_queued_with_every_prerequisite_completed() -> None:
    graph = spec(("a", ()), ("b", ("a",)), ("c", ("a", "b")), ("d", ()))
    states = {"a": S.COMPLETED, "b": S.QUEUED, "c": S.QUEUED, "d": S.RUNNING}
    assert graph.ready_children(states) == ("b",)
    assert graph.ready_children({k: S.QUEUED for k in "abcd"}) == ("a", "d")


def test_failure_blocks_dependents_transitively_but_not_independent_children() -> None:
    graph = spec(("a", ()), ("b", ("a",)), ("c", ("b",)), ("d", ()), ("e", ("d",)))
    states = {"a": S.FAILED, "b": S.QUEUED, "c": S.QUEUED, "d": S.COMPLETED, "e": S.QUEUED}
    assert graph.blocked_by_failure(states) == {"b", "c"}
    states["a"] = S.CANCELLED
    assert graph.blocked_by_failure(states) == {"b", "c"}


def test_a_dependent_that_already_ran_is_not_blocked() -> None:
    graph = spec(("a", ()), ("b", ("a",)), ("c", ("b",)))
    assert graph.blocked_by_failure({"a": S.FAILED, "b": S.COMPLETED, "c": S.QUEUED}) == set()


DEPS = {"a": (), "b": ("a",)}


@pytest.mark.parametrize(
    ("parent", "children", "expected"),
    [
        (S.CANCELLED, {"a": S.RUNNING, "b": S.QUEUED}, S.CANCELLED),
        (S.FAILED, {"a": S.COMPLETED, "b": S.COMPLETED}, S.FAILED),
        (S.QUEUED, {"a": S.QUEUED, "b": S.QUEUED}, S.QUEUED),
        (S.QUEUED, {"a": S.RUNNING, "b": S.QUEUED}, S.RUNNING),
        (S.QUEUED, {"a": S.COMPLETED, "b": S.QUEUED}, S.RUNNING),
        (S.QUEUED, {"a": S.AWAITING_APPROVAL, "b": S.QUEUED}, S.AWAITING_APPROVAL),
        (S.QUEUED, {"a": S.INTERRUPTED, "b": S.QUEUED}, S.INTERRUPTED),
        (S.RUNNING, {"a": S.COMPLETED, "b": S.COMPLETED}, S.RUNNING),
        (S.QUEUED, {"a": S.COMPLETED, "b": S.COMPLETED}, S.COMPLETED),
        (S.COMPLETED, {"a": S.COMPLETED, "b": S.COMPLETED}, S.COMPLETED),
        (S.QUEUED, {"a": S.FAILED, "b": S.QUEUED}, S.FAILED),  # b is blocked
        (S.QUEUED, {"a": S.FAILED, "b": S.FAILED}, S.FAILED),
        (S.QUEUED, {"a": S.COMPLETED, "b": S.CANCELLED}, S.CANCELLED),
    ],
)
def test_graph_status(
    parent: TaskState, children: dict[str, TaskState], expected: TaskState
) -> None:
    assert graph_status(parent, children, DEPS) is expected


def test_a_failure_does_not_end_a_graph_while_independent_work_can_run() -> None:
    deps = {"a": (), "b": ()}
    assert graph_status(S.QUEUED, {"a": S.FAILED, "b": S.QUEUED}, deps) is S.RUNNING


def test_instantiate_makes_one_queued_child_per_spec_child_with_ids_for_keys() -> None:
    parent = Task(
        id="t_parent",
        prompt="the whole thing",
        workspace=WorkspaceRequest.git("/repo", "main"),
        created_at=T0,
        updated_at=T0,
        priority=3,
        settings=RuntimeSettings(model="m"),
        max_runtime_s=60,
        idempotency_key="k",
    )
    graph_spec = GraphSpec(
        (
            ChildSpec("build", "build it"),
            ChildSpec("test", "test it", ("build",), priority=9, settings=RuntimeSettings()),
        )
    )
    counter = itertools.count(1)
    plan = instantiate(
        graph_spec, parent, graph_id="g_1", new_task_id=lambda: f"t_{next(counter)}", now=T0
    )
    assert plan.graph.id == "g_1" and plan.graph.parent_id == "t_parent"
    assert plan.parent.graph_id == "g_1" and plan.parent.key is None
    build, test = plan.children
    assert (build.id, build.key, build.depends_on) == ("t_1", "build", ())
    assert (test.id, test.key, test.depends_on) == ("t_2", "test", ("t_1",))
    assert build.priority == 3 and test.priority == 9
    assert build.settings.model == "m" and test.settings.model is None
    for child in plan.children:
        assert child.state is S.QUEUED
        assert child.workspace == parent.workspace
        assert child.parent_id == "t_parent" and child.graph_id == "g_1"
        assert child.max_runtime_s == 60 and child.idempotency_key is None


# --- properties ------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    """Random DAGs: a node only depends on nodes made before it; then shuffled."""
    n = draw(st.integers(1, 12))
    keys = [f"k{i}" for i in range(n)]
    deps = {
        key: tuple(draw(st.lists(st.sampled_from(keys[:i]), unique=True)) if i else ())
        for i, key in enumerate(keys)
    }
    order = draw(st.permutations(keys))
    return {k: deps[k] for k in order}


@given(dags())
def test_topological_order_puts_every_prerequisite_first(deps: dict[str, tuple[str, ...]]) -> None:
    order = topological_order(deps)
    assert sorted(order) == sorted(deps)
    position = {k: i for i, k in enumerate(order)}
    for node, prereqs in deps.items():
        assert all(position[p] < position[node] for p in prereqs)
    assert find_cycle(deps) is None


@given(dags(), st.data())
def test_an_added_back_edge_makes_a_cycle_that_is_reported_exactly(
    deps: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    edges = [(n, p) for n, ps in deps.items() for p in ps]
    if not edges:
        return
    node, prereq = data.draw(st.sampled_from(edges))
    deps = {**deps, prereq: (*deps[prereq], node)}  # node -> prereq -> node
    with pytest.raises(DependencyCycle) as caught:
        topological_order(deps)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1] and len(cycle) >= 3
    for a, b in itertools.pairwise(cycle):
        assert b in deps[a], f"{a} -> {b} is not an edge"


@given(dags(), st.data())
def test_ready_and_blocked_are_consistent(
    deps: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    states = {k: data.draw(st.sampled_from(list(TaskState))) for k in deps}
    ready = set(ready_children(deps, states))
    blocked = blocked_by_failure(deps, states)
    assert not ready & blocked
    for node in ready | blocked:
        assert states[node] is S.QUEUED
    for node in ready:
        assert all(states[p] is S.COMPLETED for p in deps[node])


@pytest.mark.parametrize("bad", [0, -1, True])
def test_max_concurrent_is_a_positive_integer_or_nothing(bad: int) -> None:
    with pytest.raises(InvalidMaxConcurrent, match="max_concurrent must be a positive integer"):
        check_max_concurrent(bad)
    assert check_max_concurrent(None) is None
    assert check_max_concurrent(1) == 1
    assert check_max_concurrent(5000) == 5000  # the daemon's own limit still bounds it
