"""Task service: worktrees, graphs, turn records, validation, and the less common paths."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from codex_runner.codex.scripted import (
    Script,
    ScriptedRuntime,
    complete,
    fail,
    gated,
    write_file,
)
from codex_runner.domain.conversation import TurnState
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.domain.transitions import InvalidTransition
from codex_runner.service.errors import GraphNotFound, InvalidRequest, TaskNotRunning
from codex_runner.service.event_bus import EventBus
from codex_runner.service.graphs import ChildRequest, GraphRequest
from codex_runner.service.task_log import TaskLogFiles
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .waiting import wait_state

Picker = Callable[[str], Script]


class Setup:
    def __init__(self, tmp: Path, script: Picker, **kwargs: object) -> None:
        self.store = InMemoryStore()
        self.runtime = ScriptedRuntime(script)
        self.workspaces = InMemoryWorkspaces(tmp / "worktrees")
        self.repo = tmp / "repo"
        self.workspaces.add_repository(self.repo, {"main": "a" * 40})
        self.logs = TaskLogFiles(tmp / "logs", clock=lambda: 0.0)  # one hourly file
        options: dict[str, object] = {"max_concurrent": 4, "approval_timeout_s": 5.0}
        options.update(kwargs)
        self.service = TaskService(
            self.store,
            self.runtime,
            self.workspaces,
            EventBus(),
            task_log=self.logs,
            **options,  # type: ignore[arg-type]
        )

    @property
    def git(self) -> WorkspaceRequest:
        return WorkspaceRequest.git(str(self.repo), "main")


@pytest.fixture
async def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path, lambda p: write_file if "write" in p else complete)


async def test_a_completed_task_commits_its_worktree_and_records_the_summary(
    setup: Setup,
) -> None:
    await setup.service.start()
    try:
        task = await setup.service.submit("write a file", setup.git)
        done = await wait_state(setup.service, task.id, TaskState.COMPLETED)
        assert done.branch == f"codex-runner/{task.id}"
        assert done.diff_summary is not None and "out.txt" in done.diff_summary
        ws = await setup.workspaces.locate(task.id, task.workspace)
        assert ws is not None
        assert setup.workspaces.commit_messages(ws)[0].startswith("write a file")
        assert "+write a file" in (await setup.service.diff(task.id)).diff
        (turn,) = await setup.service.turns(task.id)
        assert (turn.number, turn.state, turn.thread_id) == (1, TurnState.COMPLETED, "th1")
        lines = setup.logs.path(task.id).read_text().splitlines()
        seqs = [json.loads(line)["seq"] for line in lines]
        assert seqs == list(range(1, len(seqs) + 1))
        assert seqs[-1] == await setup.store.last_seq(task.id)
    finally:
        await setup.service.stop()


async def test_commit_on_complete_off_leaves_work_uncommitted(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: write_file, commit_on_complete=False)
    await s.service.start()
    try:
        task = await s.service.submit("write", s.git)
        await wait_state(s.service, task.id, TaskState.COMPLETED)
        ws = await s.workspaces.locate(task.id, task.workspace)
        assert ws is not None and s.workspaces.commit_messages(ws) == []
    finally:
        await s.service.stop()


async def test_bad_submissions_name_the_field_and_create_nothing(setup: Setup) -> None:
    cases = [
        (("", setup.git), "prompt"),
        (("x", WorkspaceRequest.git(str(setup.repo.parent / "nope"))), "repo"),
        (("x", WorkspaceRequest.git(str(setup.repo), "no-such-ref")), "base_ref"),
        (("x", WorkspaceRequest.directory(str(setup.repo / "missing"))), "cwd"),
        (("x", WorkspaceRequest.directory("relative/dir")), "cwd"),
    ]
    for (prompt, workspace), field in cases:
        with pytest.raises(InvalidRequest) as caught:
            await setup.service.submit(prompt, workspace)
        assert caught.value.field == field
    with pytest.raises(InvalidRequest) as caught:
        await setup.service.submit("x", setup.git, max_runtime_s=-1)
    assert caught.value.field == "max_runtime_s"
    with pytest.raises(InvalidRequest) as caught:
        await setup.service.submit("x", setup.git, images=["/no/such/image.png"])
    assert caught.value.field == "images"
    assert await setup.service.list_tasks() == []


async def test_diamond_graph_runs_in_dependency_order_and_parent_last(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: complete, max_concurrent=1)
    request = GraphRequest(
        workspace=s.git,
        prompt="merge the work",
        children=(
            ChildRequest("d", "task d", ("b", "c")),
            ChildRequest("b", "task b", ("a",)),
            ChildRequest("c", "task c", ("a",)),
            ChildRequest("a", "task a"),
        ),
    )
    view, _ = await s.service.submit_graph_or_find(request)
    assert view.children[0].key == "a"
    assert view.state is TaskState.QUEUED
    await s.service.start()
    try:
        await wait_state(s.service, view.parent.id, TaskState.COMPLETED)
        order = [p for _, p in s.runtime.started]
        assert order[0] == "task a" and order[3] == "task d"
        assert set(order[1:3]) == {"task b", "task c"}
        parent_input = order[4]
        assert parent_input.startswith("merge the work")
        for key in "abcd":
            assert f"## {key} (" in parent_input
            assert f"done: task {key}" in parent_input
        assert "branch: codex-runner/" in parent_input
        final = await s.service.graph(view.graph.id)
        assert final.state is TaskState.COMPLETED
    finally:
        await s.service.stop()


async def test_a_failed_prerequisite_fails_its_dependents_and_the_parent(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda p: fail if p == "task a" else complete, max_concurrent=2)
    request = GraphRequest(
        workspace=s.git,
        children=(
            ChildRequest("a", "task a"),
            ChildRequest("b", "task b", ("a",)),
            ChildRequest("c", "task c", ("b",)),
            ChildRequest("free", "task free"),
        ),
    )
    view, _ = await s.service.submit_graph_or_find(request)
    ids = {c.key: c.id for c in view.children}
    await s.service.start()
    try:
        await wait_state(s.service, view.parent.id, TaskState.FAILED)
        for key in ("b", "c"):
            task = await s.service.get(ids[key])
            assert task.state is TaskState.FAILED
            assert task.reason is not None and task.reason.startswith("dependency_failed")
            assert task.attempts == 0  # never started
        assert (await s.service.get(ids["free"])).state is TaskState.COMPLETED
        parent = await s.service.get(view.parent.id)
        assert parent.reason is not None and parent.reason.startswith("dependency_failed")
        assert "task b" not in [p for _, p in s.runtime.started]
        assert (await s.service.graph(view.graph.id)).state is TaskState.FAILED
    finally:
        await s.service.stop()


async def test_a_graph_without_a_parent_prompt_completes_with_its_childrens_results(
    tmp_path: Path,
) -> None:
    s = Setup(tmp_path, lambda _: complete)
    view, _ = await s.service.submit_graph_or_find(
        GraphRequest(workspace=s.git, children=(ChildRequest("only", "task only"),))
    )
    await s.service.start()
    try:
        parent = await wait_state(s.service, view.parent.id, TaskState.COMPLETED)
        assert parent.thread_id is None  # no Codex turn
        assert parent.final_message is not None and "done: task only" in parent.final_message
        assert [p for _, p in s.runtime.started] == ["task only"]
    finally:
        await s.service.stop()


async def test_bad_graphs_are_refused_whole(setup: Setup) -> None:
    cyclic = GraphRequest(
        workspace=setup.git,
        children=(ChildRequest("a", "x", ("b",)), ChildRequest("b", "y", ("a",))),
    )
    with pytest.raises(InvalidRequest, match="cycle") as caught:
        await setup.service.submit_graph_or_find(cyclic)
    assert caught.value.field == "children"
    unknown = GraphRequest(workspace=setup.git, children=(ChildRequest("a", "x", ("zz",)),))
    with pytest.raises(InvalidRequest, match="zz"):
        await setup.service.submit_graph_or_find(unknown)
    assert await setup.service.list_tasks() == []
    with pytest.raises(GraphNotFound):
        await setup.service.graph("g_missing")


async def test_idempotent_graph_submission_returns_the_same_graph(setup: Setup) -> None:
    request = GraphRequest(
        workspace=setup.git, children=(ChildRequest("a", "x"),), idempotency_key="g-1"
    )
    first, _ = await setup.service.submit_graph_or_find(request)
    again, _ = await setup.service.submit_graph_or_find(request)
    assert again.graph.id == first.graph.id
    assert len(await setup.service.list_tasks()) == 2


async def test_resuming_a_completed_graph_child_is_a_bad_transition(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: complete)
    view, _ = await s.service.submit_graph_or_find(
        GraphRequest(workspace=s.git, children=(ChildRequest("a", "x"),))
    )
    await s.service.start()
    try:
        await wait_state(s.service, view.parent.id, TaskState.COMPLETED)
        with pytest.raises(InvalidTransition, match="cannot resume"):
            await s.service.resume(view.children[0].id)
    finally:
        await s.service.stop()


async def test_cancelling_a_graph_parent_cancels_its_unfinished_children(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: gated, max_concurrent=1)
    view, _ = await s.service.submit_graph_or_find(
        GraphRequest(
            workspace=s.git,
            prompt="p",
            children=(ChildRequest("a", "x"), ChildRequest("b", "y", ("a",))),
        )
    )
    await s.service.start()
    try:
        await s.runtime.wait_started(1)
        await s.service.cancel(view.parent.id)
        final = await s.service.graph(view.graph.id)
        assert {c.state for c in final.children} == {TaskState.CANCELLED}
        assert final.parent.state is TaskState.CANCELLED
    finally:
        await s.service.stop()


async def test_max_runtime_ends_an_overlong_task_with_a_reason(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: gated)
    await s.service.start()
    try:
        task = await s.service.submit("slow", s.git, max_runtime_s=0.05)
        failed = await wait_state(s.service, task.id, TaskState.FAILED)
        assert failed.reason == "max runtime exceeded"
        (turn,) = await s.service.turns(task.id)
        assert turn.state is TurnState.FAILED
    finally:
        await s.service.stop()


async def test_steer_reaches_the_live_turn_and_needs_one(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: gated)
    await s.service.start()
    try:
        task = await s.service.submit("long", s.git)
        await s.runtime.wait_started(1)
        await wait_state(s.service, task.id, TaskState.RUNNING)
        await s.service.steer(task.id, "also do y")
        s.runtime.gate.set()
        await wait_state(s.service, task.id, TaskState.COMPLETED)
        with pytest.raises(TaskNotRunning):
            await s.service.steer(task.id, "late")
    finally:
        await s.service.stop()


async def test_a_message_after_completion_runs_a_new_turn_on_the_same_thread(
    tmp_path: Path,
) -> None:
    s = Setup(tmp_path, lambda _: complete)
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG")
    await s.service.start()
    try:
        task = await s.service.submit("first", s.git)
        await wait_state(s.service, task.id, TaskState.COMPLETED)
        await s.service.message(task.id, "second", images=[str(image)])
        done = await wait_state(s.service, task.id, TaskState.COMPLETED)
        assert done.final_message == "done: second"
        assert s.runtime.started == [("th1", "first"), ("th1", "second")]
        assert s.runtime.images == [[str(image)]]
        turns = await s.service.turns(task.id)
        assert [t.number for t in turns] == [1, 2]
        assert [t.final_message for t in turns] == ["done: first", "done: second"]
        assert done.pending_images == ()
    finally:
        await s.service.stop()


async def test_cancel_of_a_running_task_ends_it_for_good(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: gated)
    await s.service.start()
    try:
        task = await s.service.submit("long", s.git)
        await s.runtime.wait_started(1)
        cancelled = await s.service.cancel(task.id)
        assert cancelled.state is TaskState.CANCELLED
        with pytest.raises(InvalidTransition):
            await s.service.resume(task.id)
    finally:
        await s.service.stop()


async def test_an_interrupt_before_the_turn_starts_is_honoured(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda _: complete)
    entered = asyncio.Event()
    release = asyncio.Event()
    real_start_thread = s.runtime.start_thread

    async def slow_start_thread(options: object) -> object:
        entered.set()
        await release.wait()
        return await real_start_thread(options)  # type: ignore[arg-type]

    s.runtime.start_thread = slow_start_thread  # type: ignore[method-assign, assignment]
    await s.service.start()
    try:
        task = await s.service.submit("x", s.git)
        async with asyncio.timeout(5):
            await entered.wait()
        interrupting = asyncio.create_task(s.service.interrupt(task.id))
        # Let the thread start only once the interrupt is on record with the runner (a
        # white-box look: the race is between that record and the turn's start).
        for _ in range(1000):
            if (run := s.service._scheduler.live_run(task.id)) and run.stop_requested:
                break
            await asyncio.sleep(0)  # one loop iteration: nothing here waits on time
        else:
            raise AssertionError("the interrupt never reached the runner")
        release.set()
        after = await asyncio.wait_for(interrupting, 5)
        assert after.state is TaskState.INTERRUPTED
        assert s.runtime.started == []  # no Codex turn was started behind the user's back
        assert s.runtime.released == ["th1"]  # the thread it opened is let go
    finally:
        await s.service.stop()


async def test_status_counts_tasks_and_names_the_runtime(setup: Setup) -> None:
    await setup.service.submit("x", setup.git)
    status = await setup.service.status()
    assert status.counts[TaskState.QUEUED] == 1
    assert status.runtime.kind == "scripted"
    assert status.active == ()


async def test_gc_removes_finished_worktrees_only(tmp_path: Path) -> None:
    s = Setup(tmp_path, lambda p: gated if p == "busy" else complete)
    await s.service.start()
    try:
        done = await s.service.submit("quick", s.git)
        await wait_state(s.service, done.id, TaskState.COMPLETED)
        busy = await s.service.submit("busy", s.git)
        await s.runtime.wait_started(2)
        report = await s.service.gc(0, force=True)
        assert [w.task_id for w in report.removed] == [done.id]
        assert await s.workspaces.locate(busy.id, busy.workspace) is not None
        s.runtime.gate.set()
    finally:
        await s.service.stop()


async def test_an_adapters_event_is_stored_and_logged_like_every_other(setup: Setup) -> None:
    task = await setup.service.submit("x", setup.git)
    recorded = await setup.service.record_event(task.id, "slack.command", {"command": "status"})
    assert (recorded.seq, recorded.data) == (2, {"command": "status"})
    stored = [e.type for e in await setup.service.read_events(task.id)]
    assert stored == ["task.created", "slack.command"]
    lines = setup.logs.path(task.id).read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == stored


async def test_an_adapter_cannot_record_a_runner_event(setup: Setup) -> None:
    task = await setup.service.submit("x", setup.git)
    with pytest.raises(ValueError, match=r"task\.state_changed is a runner event"):
        await setup.service.record_event(task.id, "task.state_changed", {"to": "completed"})
    assert [e.type for e in await setup.service.read_events(task.id)] == ["task.created"]
