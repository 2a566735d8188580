"""What a submit refuses before anything is written, and what an idempotency key promises."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.domain.task import REASONING_EFFORTS, RuntimeSettings, WorkspaceRequest
from codex_runner.service.errors import IdempotencyKeyReused, InvalidRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.graphs import ChildRequest, GraphRequest
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.service.validation import workspace_request
from codex_runner.store.memory import InMemoryStore


def make() -> tuple[TaskService, InMemoryStore]:
    store = InMemoryStore()
    service = TaskService(
        store,
        ScriptedRuntime(lambda _: complete),
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=5.0,
    )
    return service, store


@pytest.mark.parametrize("priority", [True, False, "5", 5.0, 1001, -1001, None])
async def test_a_priority_that_is_not_an_integer_in_range_is_refused(
    tmp_path: Path, priority: object
) -> None:
    service, store = make()
    with pytest.raises(InvalidRequest) as caught:
        await service.submit("go", WorkspaceRequest.directory(str(tmp_path)), priority=priority)  # type: ignore[arg-type]
    assert caught.value.field == "priority"
    assert "an integer from -1000 to 1000" in str(caught.value)
    assert await store.list_tasks() == []


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, 0, -5, True, "60"])
async def test_a_max_runtime_that_is_not_a_positive_finite_number_is_refused(
    tmp_path: Path, seconds: object
) -> None:
    service, _ = make()
    with pytest.raises(InvalidRequest) as caught:
        await service.submit("go", WorkspaceRequest.directory(str(tmp_path)), max_runtime_s=seconds)  # type: ignore[arg-type]
    assert caught.value.field == "max_runtime_s"
    assert "max_runtime_s must be a positive finite number of seconds" in str(caught.value)


async def test_an_effort_codex_does_not_know_is_refused_naming_the_allowed_ones(
    tmp_path: Path,
) -> None:
    service, _ = make()
    with pytest.raises(InvalidRequest) as caught:
        await service.submit(
            "go",
            WorkspaceRequest.directory(str(tmp_path)),
            settings=RuntimeSettings(effort="ultra"),
        )
    assert caught.value.field == "effort"
    assert "none, minimal, low, medium, high, xhigh" in str(caught.value)
    for effort in REASONING_EFFORTS:
        task = await service.submit(
            "go", WorkspaceRequest.directory(str(tmp_path)), settings=RuntimeSettings(effort=effort)
        )
        assert task.settings.effort == effort


@pytest.mark.parametrize("model", ["gpt-5\nrm -rf /", "gpt\x1b[31m", "m" * 201, " ", ""])
async def test_a_model_name_with_a_control_character_or_too_long_is_refused(
    tmp_path: Path, model: str
) -> None:
    service, _ = make()
    with pytest.raises(InvalidRequest) as caught:
        await service.submit(
            "go", WorkspaceRequest.directory(str(tmp_path)), settings=RuntimeSettings(model=model)
        )
    assert caught.value.field == "model"


async def test_a_graph_checks_its_own_and_its_childrens_values(tmp_path: Path) -> None:
    service, store = make()
    workspace = WorkspaceRequest.directory(str(tmp_path))
    bad_child = GraphRequest(workspace, (ChildRequest("a", "do a", priority=True),))
    with pytest.raises(InvalidRequest) as caught:
        await service.submit_graph_or_find(bad_child)
    assert caught.value.field == "children[0].priority"
    bad_effort = GraphRequest(
        workspace, (ChildRequest("a", "do a"),), settings=RuntimeSettings(effort="ultra")
    )
    with pytest.raises(InvalidRequest, match="effort must be one of"):
        await service.submit_graph_or_find(bad_effort)
    with pytest.raises(InvalidRequest, match="positive finite"):
        await service.submit_graph_or_find(
            GraphRequest(workspace, (ChildRequest("a", "do a"),), max_runtime_s=math.nan)
        )
    assert await store.list_tasks() == []


async def test_cwd_is_stored_resolved_through_dot_dot_and_symlinks(tmp_path: Path) -> None:
    service, _ = make()
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    dotted = f"{real}/sub/../sub/.."
    for given in (dotted, str(link)):
        task = await service.submit("go", WorkspaceRequest.directory(given))
        assert task.workspace.cwd == str(real.resolve())


async def test_a_symlink_to_a_missing_directory_is_refused_naming_where_it_points(
    tmp_path: Path,
) -> None:
    service, _ = make()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(InvalidRequest) as caught:
        await service.submit("go", WorkspaceRequest.directory(str(link)))
    assert caught.value.field == "cwd"
    assert "gone" in str(caught.value)


async def test_a_relative_or_escaping_cwd_is_refused_before_resolving(tmp_path: Path) -> None:
    service, _ = make()
    with pytest.raises(InvalidRequest, match="absolute"):
        await service.submit("go", WorkspaceRequest.directory("../etc"))
    with pytest.raises(InvalidRequest, match="control character"):
        await service.submit("go", WorkspaceRequest.directory(f"{tmp_path}\n"))


async def test_the_same_key_with_another_request_is_refused_naming_the_key(
    tmp_path: Path,
) -> None:
    service, store = make()
    workspace = WorkspaceRequest.directory(str(tmp_path))
    first = await service.submit("x", workspace, idempotency_key="k1")
    for other in (
        {"prompt": "y"},
        {"priority": 3},
        {"settings": RuntimeSettings(model="gpt-5")},
        {"max_runtime_s": 60.0},
    ):
        with pytest.raises(IdempotencyKeyReused) as caught:
            await service.submit(
                **{"prompt": "x", "workspace": workspace, **other}, idempotency_key="k1"
            )  # type: ignore[arg-type]
        assert caught.value.key == "k1" and caught.value.task_id == first.id
        assert "'k1'" in str(caught.value) and first.id in str(caught.value)
    # The same request, even spelled with another path to the same directory, finds it.
    (tmp_path / "sub").mkdir()
    again, created = await service.submit_or_find(
        "x", WorkspaceRequest.directory(f"{tmp_path}/sub/.."), idempotency_key="k1"
    )
    assert (again.id, created) == (first.id, False)
    assert len(await store.list_tasks()) == 1


async def test_a_task_stored_without_a_fingerprint_is_found_by_its_key(tmp_path: Path) -> None:
    service, store = make()
    task = await service.submit(
        "x", WorkspaceRequest.directory(str(tmp_path)), idempotency_key="old"
    )
    # As a task made before fingerprints were kept.
    store._tasks[task.id] = task.__class__(**{**task.__dict__, "idempotency_fingerprint": None})
    found, created = await service.submit_or_find(
        "y", WorkspaceRequest.directory(str(tmp_path)), idempotency_key="old"
    )
    assert (found.id, created) == (task.id, False)


async def test_racing_submits_with_one_key_make_exactly_one_task(tmp_path: Path) -> None:
    service, store = make()
    workspace = WorkspaceRequest.directory(str(tmp_path))
    results = await asyncio.gather(
        *(service.submit_or_find("x", workspace, idempotency_key="race") for _ in range(20))
    )
    assert len({task.id for task, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(await store.list_tasks()) == 1


async def test_racing_submits_with_one_key_and_other_bodies_are_refused(tmp_path: Path) -> None:
    service, store = make()
    workspace = WorkspaceRequest.directory(str(tmp_path))
    results = await asyncio.gather(
        *(
            service.submit_or_find(f"x{i % 2}", workspace, idempotency_key="race")
            for i in range(20)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len({task.id for task, _ in made}) == 1
    assert refused and all(isinstance(r, IdempotencyKeyReused) for r in refused)
    assert len(await store.list_tasks()) == 1


async def test_a_graph_key_with_another_request_is_refused(tmp_path: Path) -> None:
    service, store = make()
    workspace = WorkspaceRequest.directory(str(tmp_path))
    request = GraphRequest(workspace, (ChildRequest("a", "do a"),), idempotency_key="g")
    first, _ = await service.submit_graph_or_find(request)
    again, created = await service.submit_graph_or_find(request)
    assert (again.graph.id, created) == (first.graph.id, False)
    other = GraphRequest(workspace, (ChildRequest("a", "do b"),), idempotency_key="g")
    with pytest.raises(IdempotencyKeyReused):
        await service.submit_graph_or_find(other)
    with pytest.raises(IdempotencyKeyReused):  # a task's key is not a graph's
        await service.submit("x", workspace, idempotency_key="g")
    assert len(await store.list_tasks()) == 2


@pytest.mark.parametrize(
    ("repo", "base_ref", "cwd", "field"),
    [
        (None, None, None, "repo"),
        ("/r", None, "/w", "cwd"),
        (None, "main", "/w", "base_ref"),
    ],
)
def test_a_workspace_request_of_the_wrong_shape_is_refused_naming_the_field(
    repo: str | None, base_ref: str | None, cwd: str | None, field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        workspace_request(repo, base_ref, cwd)
    assert refused.value.field == field


def test_a_repository_workspace_request_defaults_to_head() -> None:
    assert workspace_request("/r", None, None) == WorkspaceRequest.git("/r", "HEAD")
    assert workspace_request(None, None, "/w") == WorkspaceRequest.directory("/w")


def make_with_aliases(aliases: dict[str, str]) -> TaskService:
    return TaskService(
        InMemoryStore(),
        ScriptedRuntime(lambda _: complete),
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=5.0,
        model_aliases=aliases,
    )


async def test_a_model_alias_is_stored_as_the_model_it_stands_for(tmp_path: Path) -> None:
    service = make_with_aliases({"fast": "gpt-5-codex-mini"})
    workspace = WorkspaceRequest.directory(str(tmp_path))
    aliased = await service.submit("go", workspace, settings=RuntimeSettings(model="fast"))
    named = await service.submit("go", workspace, settings=RuntimeSettings(model="gpt-5-codex"))
    assert aliased.settings.model == "gpt-5-codex-mini"
    assert named.settings.model == "gpt-5-codex"
    # Without the map, "fast" is a model name like any other.
    plain = await make_with_aliases({}).submit("go", workspace, settings=RuntimeSettings("fast"))
    assert plain.settings.model == "fast"


async def test_a_graph_resolves_its_own_and_its_childrens_model_aliases(tmp_path: Path) -> None:
    service = make_with_aliases({"fast": "gpt-5-codex-mini", "deep": "gpt-5-codex"})
    request = GraphRequest(
        WorkspaceRequest.directory(str(tmp_path)),
        (
            ChildRequest("a", "do a"),
            ChildRequest("b", "do b", settings=RuntimeSettings(model="deep")),
        ),
        prompt="sum up",
        settings=RuntimeSettings(model="fast"),
    )
    view, created = await service.submit_graph_or_find(request)
    assert created
    models = {child.key: child.settings.model for child in view.children}
    assert models == {"a": "gpt-5-codex-mini", "b": "gpt-5-codex"}
    assert view.parent.settings.model == "gpt-5-codex-mini"
