"""Shape checks on a graph plan before any store writes it (shared by every Store)."""

from __future__ import annotations

from codex_runner.domain.graph import GraphPlan, GraphSpecError, topological_order
from codex_runner.store.errors import InvalidGraph


def check_graph_plan(plan: GraphPlan) -> None:
    """Raise :class:`InvalidGraph` unless graph, parent and children fit together."""
    graph, parent = plan.graph, plan.parent
    if graph.parent_id != parent.id:
        raise InvalidGraph(f"graph {graph.id} names parent {graph.parent_id}, not {parent.id}")
    if parent.graph_id != graph.id or parent.key is not None:
        raise InvalidGraph(f"parent {parent.id} must have graph_id {graph.id} and no key")
    if not plan.children:
        raise InvalidGraph(f"graph {graph.id} has no children")
    ids = {parent.id}
    keys: set[str] = set()
    for child in plan.children:
        if child.graph_id != graph.id or child.parent_id != parent.id or child.key is None:
            raise InvalidGraph(
                f"child {child.id} must have graph_id {graph.id}, parent_id {parent.id} and a key"
            )
        if child.id in ids:
            raise InvalidGraph(f"task id {child.id} appears twice in graph {graph.id}")
        if child.key in keys:
            raise InvalidGraph(f"child key {child.key!r} appears twice in graph {graph.id}")
        ids.add(child.id)
        keys.add(child.key)
    child_ids = ids - {parent.id}
    if set(parent.depends_on) != child_ids:
        raise InvalidGraph(f"parent {parent.id} must depend on exactly its children (it runs last)")
    for child in plan.children:
        unknown = [d for d in child.depends_on if d not in child_ids]
        if unknown:
            raise InvalidGraph(
                f"child {child.id} depends on {', '.join(unknown)}, not children of {graph.id}"
            )
    try:
        topological_order({c.id: c.depends_on for c in plan.children})
    except GraphSpecError as e:
        raise InvalidGraph(f"graph {graph.id}: {e}") from e
