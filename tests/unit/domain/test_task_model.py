"""Task, workspace and settings values refuse shapes that cannot run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from codex_runner.domain.task import (
    DEFAULT_MAX_RUNTIME_S,
    InvalidWorkspaceRequest,
    Task,
    TaskState,
    WorkspaceRequest,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make(**fields: object) -> Task:
    base: dict[str, object] = {
        "id": "t_1",
        "prompt": "go",
        "workspace": WorkspaceRequest.directory("/w"),
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(fields)
    return Task(**base)  # type: ignore[arg-type]


def test_a_new_task_is_queued_with_the_documented_defaults() -> None:
    task = make()
    assert task.state is TaskState.QUEUED
    assert task.max_runtime_s == DEFAULT_MAX_RUNTIME_S == 18000
    assert task.priority == 0 and task.attempts == 0
    assert task.depends_on == () and task.usage.total_tokens == 0


def test_workspace_is_a_repository_or_a_directory_never_both_or_neither() -> None:
    assert WorkspaceRequest.git("/repo").base_ref == "HEAD"
    assert WorkspaceRequest.git("/repo", "main").is_git
    assert not WorkspaceRequest.directory("/w").is_git
    with pytest.raises(InvalidWorkspaceRequest, match="say where the task runs") as neither:
        WorkspaceRequest()
    assert neither.value.field == "repo"
    with pytest.raises(InvalidWorkspaceRequest, match="not both") as both:
        WorkspaceRequest(repo="/r", cwd="/w")
    assert both.value.field == "cwd"
    with pytest.raises(InvalidWorkspaceRequest, match="only applies with repo") as ref:
        WorkspaceRequest(cwd="/w", base_ref="main")
    assert ref.value.field == "base_ref"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"max_runtime_s": 0}, "max_runtime_s"),
        ({"created_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"depends_on": ("t_1",)}, "depends on itself"),
        ({"depends_on": ("t_2", "t_2")}, "twice"),
    ],
)
def test_task_refuses_values_that_cannot_run(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**fields)


def test_graph_roles() -> None:
    assert make(graph_id="g_1").is_graph_parent
    child = make(graph_id="g_1", key="a", parent_id="t_0")
    assert child.is_graph_child and not child.is_graph_parent
    assert not make().is_graph_parent and not make().is_graph_child
