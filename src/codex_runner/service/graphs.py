"""Graph requests and views: what callers submit and what ``graph status`` shows.

The rules (validation, readiness, failure propagation, the graph's state) live in
:mod:`codex_runner.domain.graph`; this module shapes requests into a plan and stored tasks
into a view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from codex_runner.domain.graph import (
    ChildSpec,
    Graph,
    GraphPlan,
    GraphSpec,
    blocked_by_failure,
    check_max_concurrent,
    graph_status,
    instantiate,
    topological_order,
)
from codex_runner.domain.ids import TASK_PREFIX, is_id
from codex_runner.domain.task import (
    DEFAULT_MAX_RUNTIME_S,
    RuntimeSettings,
    Task,
    TaskState,
    WorkspaceRequest,
)
from codex_runner.domain.task_options import TaskOptions, TurnOverrides
from codex_runner.service.errors import GraphNotFound
from codex_runner.store.protocol import Store

# The parent of a graph without a prompt of its own still needs one to be a task; it never
# reaches Codex (``runs_codex`` is False): the parent completes with its children's results.
NO_PARENT_PROMPT = "Collect the results of this graph's child tasks."
# The most children one graph may have (a read of a graph's tasks stops above it).
MAX_GRAPH_SIZE = 1_000


@dataclass(frozen=True)
class ChildRequest:
    key: str
    prompt: str
    depends_on: tuple[str, ...] = ()
    priority: int | None = None
    settings: RuntimeSettings | None = None
    output_schema: Mapping[str, Any] | None = None  # this child's final message's shape


@dataclass(frozen=True)
class GraphRequest:
    """A parent (optional prompt) and its children, sharing one workspace spec."""

    workspace: WorkspaceRequest
    children: tuple[ChildRequest, ...]
    prompt: str | None = None
    priority: int = 0
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    max_runtime_s: float | None = None
    idempotency_key: str | None = None
    max_concurrent: int | None = None  # at most this many children run at once
    # Session options, purpose and metadata for the parent and every child; the turn
    # overrides (summary, output schema) for the parent's own turn.
    options: TaskOptions = field(default_factory=TaskOptions)


@dataclass(frozen=True)
class GraphView:
    graph: Graph
    parent: Task
    children: tuple[Task, ...]  # in a valid run order
    state: TaskState
    blocked: frozenset[str]  # child ids that can never start: a prerequisite failed


def plan_graph(
    request: GraphRequest,
    *,
    graph_id: str,
    new_task_id: Callable[[], str],
    now: datetime,
) -> GraphPlan:
    """The tasks of a graph request; raises GraphSpecError (cycles, unknown keys...)."""
    spec = GraphSpec(
        tuple(
            ChildSpec(c.key, c.prompt, c.depends_on, c.priority, c.settings)
            for c in request.children
        )
    )
    own_prompt = request.prompt.strip() if request.prompt else ""
    parent = Task(
        id=new_task_id(),
        prompt=own_prompt or NO_PARENT_PROMPT,
        workspace=request.workspace,
        created_at=now,
        updated_at=now,
        priority=request.priority,
        settings=request.settings,
        max_runtime_s=request.max_runtime_s or DEFAULT_MAX_RUNTIME_S,
        idempotency_key=request.idempotency_key,
        runs_codex=bool(own_prompt),
        session=request.options.session,
        purpose=request.options.purpose,
        metadata=request.options.metadata,
        next_turn=request.options.turn,
    )
    plan = instantiate(
        spec,
        parent,
        graph_id=graph_id,
        new_task_id=new_task_id,
        now=now,
        max_concurrent=check_max_concurrent(request.max_concurrent),
    )
    schemas = {c.key: c.output_schema for c in request.children}
    children = tuple(
        replace(
            child,
            session=parent.session,
            purpose=parent.purpose,
            metadata=parent.metadata,
            next_turn=TurnOverrides(output_schema=schemas.get(child.key or "")),
        )
        for child in plan.children
    )
    return replace(plan, children=children)


def view_graph(graph: Graph, members: Sequence[Task]) -> GraphView:
    parent = next(t for t in members if t.id == graph.parent_id)
    children = {t.id: t for t in members if t.id != graph.parent_id}
    deps = {t.id: t.depends_on for t in children.values()}
    states = {t.id: t.state for t in children.values()}
    ordered = tuple(children[i] for i in topological_order(deps))
    return GraphView(
        graph=graph,
        parent=parent,
        children=ordered,
        state=graph_status(parent.state, states, deps),
        blocked=blocked_by_failure(deps, states),
    )


async def find_graph(store: Store, graph_or_task_id: str) -> Graph:
    """The graph named by its own id or by the id of one of its tasks (a child or the
    parent); raises GraphNotFound."""
    graph = await store.get_graph(graph_or_task_id)
    if graph is None and is_id(graph_or_task_id, TASK_PREFIX):
        task = await store.get_task(graph_or_task_id)
        if task is not None and task.graph_id is not None:
            graph = await store.get_graph(task.graph_id)
    if graph is None:
        raise GraphNotFound(graph_or_task_id)
    return graph


async def load_graph(store: Store, graph_or_task_id: str) -> GraphView:
    """The graph (named by its id or one of its tasks' ids) with its tasks; raises
    GraphNotFound."""
    graph = await find_graph(store, graph_or_task_id)
    members = await store.list_tasks(graph_id=graph.id, limit=MAX_GRAPH_SIZE + 1)
    return view_graph(graph, members)
