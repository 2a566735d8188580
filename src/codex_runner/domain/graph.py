"""Task graphs: a parent task with children and ``depends_on`` edges between children.

A :class:`GraphSpec` is what a user submits: children named by ``key``, each with a prompt
and the keys of siblings it depends on. It is validated when built (unknown references,
self-dependency, duplicate keys and cycles are refused, the cycle named in the error).
:func:`instantiate` turns a spec into the tasks the store creates in one transaction.

The rule functions work on any ``deps`` mapping (node -> its prerequisites) with nodes named
by keys (a spec) or by task ids (stored children: ``{t.id: t.depends_on for t in children}``).

The parent is the graph's handle. :func:`graph_status` derives the graph's state from its
children; the parent's own state only counts when it was cancelled or failed directly, or
when it is itself running, awaiting approval or interrupted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from codex_runner.domain.task import RuntimeSettings, Task, TaskState
from codex_runner.domain.transitions import FINAL_STATES

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Deps = Mapping[str, Sequence[str]]


class GraphSpecError(ValueError):
    """A graph spec that cannot run; the message names the offending keys."""


class InvalidKey(GraphSpecError):
    pass


class DuplicateKey(GraphSpecError):
    pass


class UnknownDependency(GraphSpecError):
    pass


class SelfDependency(GraphSpecError):
    pass


class DependencyCycle(GraphSpecError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)  # first node repeated at the end: (a, b, a)
        super().__init__(
            f"depends_on forms a cycle: {' -> '.join(self.cycle)}; remove one of these edges"
        )


class EmptyGraph(GraphSpecError):
    pass


class InvalidMaxConcurrent(GraphSpecError):
    pass


def check_max_concurrent(value: int | None) -> int | None:
    """A graph's ``max_concurrent``: None (no limit of its own) or a positive integer.

    Any positive integer is accepted: the service's own limit on running tasks still
    bounds the whole queue, so a graph limit above it simply never binds.
    """
    if value is not None and (isinstance(value, bool) or value < 1):
        raise InvalidMaxConcurrent(
            f"max_concurrent must be a positive integer (at most that many children run at"
            f" once), got {value!r}; leave it out for no limit of the graph's own"
        )
    return value


@dataclass(frozen=True)
class ChildSpec:
    key: str
    prompt: str
    depends_on: tuple[str, ...] = ()
    priority: int | None = None  # default: the parent's priority
    settings: RuntimeSettings | None = None  # default: the parent's settings


@dataclass(frozen=True)
class GraphSpec:
    """Validated children of a graph; building one with a bad shape raises GraphSpecError."""

    children: tuple[ChildSpec, ...]

    def __post_init__(self) -> None:
        _validate(self.children)

    @property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        return {c.key: c.depends_on for c in self.children}

    def topological_order(self) -> tuple[str, ...]:
        return topological_order(self.dependencies)

    def ready_children(self, states: Mapping[str, TaskState]) -> tuple[str, ...]:
        return ready_children(self.dependencies, states)

    def blocked_by_failure(self, states: Mapping[str, TaskState]) -> frozenset[str]:
        return blocked_by_failure(self.dependencies, states)


@dataclass(frozen=True)
class Graph:
    """The stored graph record: its id, its parent task, and how many of its tasks may run
    at once (None: no limit of its own)."""

    id: str
    parent_id: str
    created_at: datetime
    max_concurrent: int | None = None

    def __post_init__(self) -> None:
        check_max_concurrent(self.max_concurrent)


@dataclass(frozen=True)
class GraphPlan:
    """Everything one ``Store.create_graph`` call writes."""

    graph: Graph
    parent: Task
    children: tuple[Task, ...]


def _validate(children: Sequence[ChildSpec]) -> None:
    if not children:
        raise EmptyGraph("a graph needs at least one child")
    seen: set[str] = set()
    for child in children:
        if not KEY_PATTERN.match(child.key):
            raise InvalidKey(
                f"child key {child.key!r} is not valid: use 1-64 letters, digits, '_', '.', '-'"
                " starting with a letter or digit"
            )
        if child.key in seen:
            raise DuplicateKey(f"two children have the key {child.key!r}; keys must be unique")
        seen.add(child.key)
    for child in children:
        if not child.prompt.strip():
            raise GraphSpecError(f"child {child.key!r} has an empty prompt")
        if len(set(child.depends_on)) != len(child.depends_on):
            raise DuplicateKey(f"child {child.key!r} lists the same dependency twice")
        for dep in child.depends_on:
            if dep == child.key:
                raise SelfDependency(f"child {child.key!r} depends on itself")
            if dep not in seen:
                known = ", ".join(sorted(seen))
                raise UnknownDependency(
                    f"child {child.key!r} depends on {dep!r}, which is not a child of this graph"
                    f" (children: {known})"
                )
    topological_order({c.key: c.depends_on for c in children})


def find_cycle(deps: Deps) -> tuple[str, ...] | None:
    """One dependency cycle as (a, b, ..., a), or None; deterministic in ``deps`` order."""
    done: set[str] = set()
    for start in deps:
        if start in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        # Iterative DFS: (node, iterator over its prerequisites).
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(deps.get(start, ())))]
        path.append(start)
        on_path[start] = 0
        while stack:
            node, prerequisites = stack[-1]
            advanced = False
            for dep in prerequisites:
                if dep in on_path:
                    return (*path[on_path[dep] :], dep)
                if dep in done or dep not in deps:
                    continue
                on_path[dep] = len(path)
                path.append(dep)
                stack.append((dep, iter(deps.get(dep, ()))))
                advanced = True
                break
            if not advanced:
                stack.pop()
                path.pop()
                del on_path[node]
                done.add(node)
    return None


def topological_order(deps: Deps) -> tuple[str, ...]:
    """Nodes with every prerequisite before its dependents; ties keep ``deps`` order.

    Prerequisites outside ``deps`` are ignored. Raises :class:`DependencyCycle`.
    """
    remaining = {node: {d for d in prereqs if d in deps} for node, prereqs in deps.items()}
    order: list[str] = []
    placed: set[str] = set()
    while remaining:
        ready = [node for node, prereqs in remaining.items() if prereqs <= placed]
        if not ready:
            cycle = find_cycle({n: tuple(p) for n, p in deps.items() if n in remaining})
            raise DependencyCycle(cycle or tuple(remaining))
        for node in ready:
            order.append(node)
            placed.add(node)
            del remaining[node]
    return tuple(order)


def ready_children(deps: Deps, states: Mapping[str, TaskState]) -> tuple[str, ...]:
    """Queued nodes whose prerequisites have all completed, in ``deps`` order."""
    return tuple(
        node
        for node, prereqs in deps.items()
        if states.get(node) is TaskState.QUEUED
        and all(states.get(p) is TaskState.COMPLETED for p in prereqs)
    )


def blocked_by_failure(deps: Deps, states: Mapping[str, TaskState]) -> frozenset[str]:
    """Queued nodes that can never run: a prerequisite failed or was cancelled, or is blocked.

    The service fails these with the ``dependency_failed`` action.
    """
    blocked: set[str] = set()
    for node in topological_order(deps):
        if states.get(node) is not TaskState.QUEUED:
            continue
        if any(states.get(p) in FINAL_STATES or p in blocked for p in deps[node]):
            blocked.add(node)
    return frozenset(blocked)


def graph_status(
    parent: TaskState, children: Mapping[str, TaskState], deps: Deps | None = None
) -> TaskState:
    """The graph's state from its parent and children (``deps`` finds blocked children).

    In order: a cancelled or failed parent decides; then anyone awaiting approval, running,
    or interrupted; then children still able to run (``queued`` if none has started yet,
    else ``running``); once every child is settled: ``failed`` if any failed or is blocked
    by a failure, ``cancelled`` if any was cancelled, else ``completed``.
    """
    if parent in FINAL_STATES:
        return parent
    states = list(children.values())
    everyone = [*states, parent]
    for state in (TaskState.AWAITING_APPROVAL, TaskState.RUNNING, TaskState.INTERRUPTED):
        if state in everyone:
            return state
    blocked = blocked_by_failure(deps, children) if deps is not None else frozenset()
    if any(s is TaskState.QUEUED and key not in blocked for key, s in children.items()):
        if all(s is TaskState.QUEUED for s in states):
            return TaskState.QUEUED
        # Some failed with a queued child still free to run: the graph is still going.
        return TaskState.RUNNING
    if TaskState.FAILED in states or blocked:
        return TaskState.FAILED
    if TaskState.CANCELLED in states:
        return TaskState.CANCELLED
    return TaskState.COMPLETED


def instantiate(
    spec: GraphSpec,
    parent: Task,
    *,
    graph_id: str,
    new_task_id: Callable[[], str],
    now: datetime,
    max_concurrent: int | None = None,
) -> GraphPlan:
    """The graph record, the parent and one queued child task per spec child.

    Children inherit the parent's workspace, settings, priority and max runtime unless the
    spec overrides them; ``depends_on`` keys become task ids. The parent depends on every
    child, so it runs last (and fails with ``dependency_failed`` when a child fails).
    """
    ids = {child.key: new_task_id() for child in spec.children}
    parent = replace(parent, graph_id=graph_id, depends_on=tuple(ids.values()))
    children = tuple(
        Task(
            id=ids[child.key],
            prompt=child.prompt,
            workspace=parent.workspace,
            created_at=now,
            updated_at=now,
            priority=parent.priority if child.priority is None else child.priority,
            settings=parent.settings if child.settings is None else child.settings,
            parent_id=parent.id,
            graph_id=graph_id,
            key=child.key,
            depends_on=tuple(ids[k] for k in child.depends_on),
            max_runtime_s=parent.max_runtime_s,
        )
        for child in spec.children
    )
    graph = Graph(id=graph_id, parent_id=parent.id, created_at=now, max_concurrent=max_concurrent)
    return GraphPlan(graph=graph, parent=parent, children=children)


def coordinator_input(parent_prompt: str | None, children: Sequence[Task]) -> str:
    """What the parent's first turn receives: its prompt, then each child's results.

    Children come in their graph order; each shows its key, state, branch and final message,
    so the parent can review, merge or summarise its workers' work.
    """
    lines = [parent_prompt.strip(), ""] if parent_prompt else []
    lines.append(f"Results of the {len(children)} child tasks of this graph:")
    for child in children:
        lines.append("")
        lines.append(f"## {child.key} ({child.id}): {child.state}")
        if child.branch:
            lines.append(f"branch: {child.branch}")
        if child.diff_summary:
            lines.append(f"changes: {child.diff_summary}")
        lines.append("final message:")
        lines.append(child.final_message.strip() if child.final_message else "(none)")
    return "\n".join(lines)
