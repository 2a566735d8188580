"""The CLI against the real API (``create_app``) over a real TaskService: in-memory store and
workspaces, scripted Codex, served by uvicorn in a thread with its own event loop.

Prompts pick the script: ``wait...`` blocks until the runtime's gate opens, ``ask...`` asks
for an approval, anything else completes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from codex_runner.api.app import create_app
from codex_runner.cli import exit_codes
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete, gated
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import EventOut, GraphOut
from codex_runner.http.wire_disk import DiskOut
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.http.wire_turns import TurnList
from codex_runner.service.event_bus import EventBus, Subscription
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .conftest import TOKEN, CliRun, make_cli, make_home, one_error_line
from .disk_routes import DISK_BYTES, disk_routes

WAIT_S = 10.0
T = TypeVar("T")


def script_for(text: str) -> Script:
    if text.startswith("wait"):
        return gated
    if text.startswith("ask"):
        return ask
    return complete


class WatchedBus(EventBus):
    """An EventBus that counts subscriptions per task, so a test can act once a client
    follows a task's live events."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: Counter[str | None] = Counter()
        self.subscribed = asyncio.Event()

    def subscribe(self, task_id: str | None = None) -> Subscription:
        sub = super().subscribe(task_id)
        self.subscriptions[task_id] += 1
        self.subscribed.set()
        return sub


@dataclass
class LiveDaemon:
    url: str
    loop: asyncio.AbstractEventLoop
    service: TaskService
    runtime: ScriptedRuntime
    plain: Path
    bus: WatchedBus
    workspaces: InMemoryWorkspaces
    worktrees: Path

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the daemon's loop and wait (bounded) for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT_S)

    def open_gate(self) -> None:
        self.loop.call_soon_threadsafe(self.runtime.gate.set)

    async def wait_state(self, task_id: str, state: TaskState) -> None:
        async with asyncio.timeout(WAIT_S):
            if (await self.service.get(task_id)).state is state:
                return
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                async for _ in events:
                    if (await self.service.get(task_id)).state is state:
                        return
        raise AssertionError("the event feed ended")

    async def interrupt_once_followed(self, task_id: str, seen: int) -> None:
        """Interrupt the task once a client subscribed to it after ``seen`` subscriptions."""
        async with asyncio.timeout(WAIT_S):
            while self.bus.subscriptions[task_id] <= seen:
                self.bus.subscribed.clear()
                await self.bus.subscribed.wait()
        await self.service.interrupt(task_id)

    async def pending_approval(self, task_id: str) -> str:
        async with asyncio.timeout(WAIT_S):
            async with contextlib.aclosing(self.service.events(task_id)) as events:
                async for event in events:
                    if event.type == "approval.requested":
                        return str(event.data["approval_id"])
        raise AssertionError("the event feed ended")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveDaemon]:
    plain = tmp_path / "plain"
    plain.mkdir()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before uvicorn starts: early connections wait in the backlog
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = threading.Event()
    parts: dict[str, Any] = {}

    async def serve() -> None:
        runtime = ScriptedRuntime(script_for)
        bus = WatchedBus()
        workspaces = InMemoryWorkspaces(tmp_path / "worktrees")
        service = TaskService(
            InMemoryStore(),
            runtime,
            workspaces,
            bus,
            max_concurrent=2,
            approval_timeout_s=30.0,
        )
        routers = disk_routes(service, tmp_path, tmp_path / "worktrees")
        app = create_app(service, token=TOKEN, ready=lambda: True, routers=routers)
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=5)
        )
        await service.start()
        parts.update(
            loop=asyncio.get_running_loop(),
            service=service,
            runtime=runtime,
            server=server,
            bus=bus,
            workspaces=workspaces,
            streams=app.state.event_streams,
        )
        started.set()
        try:
            await server.serve(sockets=[sock])
        finally:
            runtime.gate.set()
            await service.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="live-daemon")
    thread.daemon = True
    thread.start()
    assert started.wait(WAIT_S), "the daemon did not start"
    loop: asyncio.AbstractEventLoop = parts["loop"]

    def stop() -> None:
        parts["streams"].close_all()
        parts["server"].should_exit = True

    try:
        yield LiveDaemon(
            url,
            loop,
            parts["service"],
            parts["runtime"],
            plain,
            parts["bus"],
            parts["workspaces"],
            tmp_path / "worktrees",
        )
    finally:
        loop.call_soon_threadsafe(stop)
        thread.join(WAIT_S + 5)
        sock.close()
        assert not thread.is_alive(), "the daemon did not stop"


@pytest.fixture
def cli(live: LiveDaemon, tmp_path: Path) -> CliRun:
    return make_cli(make_home(tmp_path / "home", url=live.url))


def test_submit_and_follow_a_task_to_completion(cli: CliRun, live: LiveDaemon) -> None:
    result = cli("task", "submit", "fix it", "--cwd", str(live.plain), "--follow")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "submitted task" in out
    assert "done: fix it" in out
    assert "→ completed" in out
    task_id = out.split("submitted task ", 1)[1].split()[0]
    shown = TaskOut.model_validate_json(cli("task", "show", task_id, "--json").stdout)
    assert shown.state is TaskState.COMPLETED
    assert shown.cwd == str(live.plain)
    listed = TaskList.model_validate_json(cli("task", "list", "--json").stdout)
    assert [t.id for t in listed.tasks] == [task_id]
    logs = cli("task", "logs", task_id, "--json")
    seqs = [EventOut.model_validate_json(line).seq for line in logs.stdout.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))


def test_an_approval_is_listed_refused_then_decided_and_the_task_ends(
    cli: CliRun, live: LiveDaemon
) -> None:
    submitted = cli("task", "submit", "ask first", "--cwd", str(live.plain), "--json")
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    approval_id = live.run(live.pending_approval(task_id))
    live.run(live.wait_state(task_id, TaskState.AWAITING_APPROVAL))
    listed = cli("approvals", "list")
    assert approval_id in listed.stdout and "rm -rf build" in listed.stdout
    refused = cli("approvals", "decide", approval_id, "maybe")
    assert refused.exit_code == 1
    line = one_error_line(refused)
    assert "choose one of: accept, decline" in line and "(field: decision)" in line
    decided = cli("approvals", "decide", approval_id, "accept", "--by", "alice")
    assert decided.exit_code == 0, decided.output
    followed = cli("task", "logs", task_id, "--follow")
    assert followed.exit_code == 0, followed.output
    assert f"? approval {approval_id}" in followed.stdout
    assert f"approval {approval_id}: accept by alice" in followed.stdout
    assert "done: ask first (accept)" in followed.stdout


def test_steer_interrupt_resume_then_follow_to_the_end(cli: CliRun, live: LiveDaemon) -> None:
    submitted = cli("task", "submit", "wait for me", "--cwd", str(live.plain), "--json")
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    live.run(live.wait_state(task_id, TaskState.RUNNING))
    steered = cli("task", "steer", task_id, "also add docs")
    assert steered.exit_code == 0, steered.output
    interrupted = cli("task", "interrupt", task_id)
    assert f"task {task_id}: interrupted" in interrupted.stdout
    again = cli("task", "interrupt", task_id)
    assert again.exit_code == 1
    assert "cannot interrupt" in one_error_line(again)
    resumed = cli("task", "resume", task_id, "go on")
    assert resumed.exit_code == 0, resumed.output
    live.open_gate()
    followed = cli("task", "logs", task_id, "--follow", "--json")
    assert followed.exit_code == 0, followed.output
    events = [EventOut.model_validate_json(line) for line in followed.stdout.splitlines()]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "task.state_changed" and events[-1].data["to"] == "completed"


def test_a_graph_from_a_spec_file(cli: CliRun, live: LiveDaemon, tmp_path: Path) -> None:
    spec = tmp_path / "graph.yaml"
    spec.write_text(
        "children:\n"
        "  - {key: schema, prompt: design it}\n"
        "  - {key: api, prompt: build it, depends_on: [schema]}\n"
    )
    started = cli("graph", "start", "--spec", str(spec), "--cwd", str(live.plain), "--json")
    assert started.exit_code == 0, started.output
    graph = GraphOut.model_validate_json(started.stdout)
    assert [c.key for c in graph.children] == ["schema", "api"]
    live.run(live.wait_state(graph.parent.id, TaskState.COMPLETED))
    status = cli("graph", "status", graph.id[:-10])  # a unique prefix will do
    assert status.exit_code == 0, status.output
    rows = [line.split("\t") for line in status.stdout.splitlines()[1:]]
    assert [row[:3] for row in rows] == [
        ["(parent)", graph.parent.id, "completed"],
        ["schema", graph.children[0].id, "completed"],
        ["api", graph.children[1].id, "completed"],
    ]
    assert [row[3] for row in rows] == ["schema, api", "-", "schema"]  # keys, not ids
    child = graph.children[1].id
    for named_by in (child, child[2:]):  # a child's id, or a unique prefix of it
        by_child = cli("graph", "status", named_by)
        assert by_child.exit_code == 0, by_child.output
        assert by_child.stdout == status.stdout


def test_gc_and_an_unknown_task(cli: CliRun, live: LiveDaemon) -> None:
    gc = cli("gc", "--retention", "0")
    assert gc.exit_code == 0, gc.output
    assert "removed 0 worktree(s)" in gc.stdout
    missing = cli("task", "show", "t_missing")
    assert missing.exit_code == 1
    assert "t_missing" in one_error_line(missing)


# --- following ends on a state that needs a person ------------------------------------------


def test_following_a_task_interrupted_from_elsewhere_exits_3_saying_how_to_resume(
    cli: CliRun, live: LiveDaemon
) -> None:
    submitted = cli("task", "submit", "wait for me", "--cwd", str(live.plain), "--json")
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    live.run(live.wait_state(task_id, TaskState.RUNNING))
    seen = live.bus.subscriptions[task_id]
    interrupter = asyncio.run_coroutine_threadsafe(
        live.interrupt_once_followed(task_id, seen), live.loop
    )
    followed = cli("task", "logs", task_id, "--follow")
    interrupter.result(WAIT_S)
    assert followed.exit_code == exit_codes.INTERRUPTED, followed.output
    assert "→ interrupted" in followed.stdout
    line = followed.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"task {task_id} was interrupted (reason: ")
    assert line.endswith(f"; resume it with: codex-runner task resume {task_id}")


def test_following_a_task_that_was_interrupted_before_returns_at_once(
    cli: CliRun, live: LiveDaemon
) -> None:
    submitted = cli("task", "submit", "wait for me", "--cwd", str(live.plain), "--json")
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    live.run(live.wait_state(task_id, TaskState.RUNNING))
    assert cli("task", "interrupt", task_id).exit_code == 0
    followed = cli("task", "logs", task_id, "--follow", "--json")
    assert followed.exit_code == exit_codes.INTERRUPTED, followed.output
    events = [EventOut.model_validate_json(line) for line in followed.stdout.splitlines()]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].data["to"] == "interrupted"


def test_no_wait_approval_ends_the_follow_naming_the_approval_and_its_decisions(
    cli: CliRun, live: LiveDaemon
) -> None:
    submitted = cli(
        "task", "submit", "ask first", "--cwd", str(live.plain), "--follow", "--no-wait-approval"
    )
    assert submitted.exit_code == exit_codes.AWAITING_APPROVAL, submitted.output
    task_id = submitted.stdout.split("submitted task ", 1)[1].split()[0]
    (approval,) = live.run(live.service.pending_approvals(task_id))
    assert submitted.stderr.strip() == (
        f"task {task_id} is awaiting approval {approval.id} (command); decide it with: "
        f"codex-runner approvals decide {approval.id} accept|decline"
    )
    decided = cli("approvals", "decide", approval.id, "accept")
    assert decided.exit_code == 0, decided.output
    followed = cli("task", "logs", task_id, "--follow", "--no-wait-approval")
    assert followed.exit_code == exit_codes.OK, followed.output


def test_gc_lists_each_removed_worktree_with_its_path(
    cli: CliRun, live: LiveDaemon, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    live.workspaces.add_repository(repo)
    submitted = cli("task", "submit", "fix it", "--repo", str(repo), "--json")
    assert submitted.exit_code == 0, submitted.output
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    live.run(live.wait_state(task_id, TaskState.COMPLETED))
    gc = cli("gc", "--retention", "0", "--force")
    assert gc.exit_code == 0, gc.output
    lines = gc.stdout.splitlines()
    assert lines[0].startswith("removed 1 worktree(s), ")  # and their bytes
    assert lines[1].split()[:3] == ["-", task_id, str(live.worktrees / task_id)]


def test_gc_dry_run_lists_what_would_go_with_bytes_and_disk_shows_it(
    cli: CliRun, live: LiveDaemon, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    live.workspaces.add_repository(repo)
    submitted = cli("task", "submit", "write it", "--repo", str(repo), "--json")
    task_id = TaskOut.model_validate_json(submitted.stdout).id
    live.run(live.wait_state(task_id, TaskState.COMPLETED))
    (live.worktrees / task_id / "notes.txt").write_text("12345678\n")

    dry = cli("gc", "--retention", "0", "--force", "--dry-run")

    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("would remove 1 worktree(s), ")
    assert lines[1].split()[:5] == ["-", task_id, str(live.worktrees / task_id), "9", "B"]
    assert (live.worktrees / task_id / "notes.txt").exists()  # nothing removed
    disk = DiskOut.model_validate_json(cli("disk", "--json").stdout)
    assert [(k.kind, k.bytes, k.files) for k in disk.kinds] == [("worktrees", 9, 1)]
    assert disk.free_bytes == DISK_BYTES - 9
    table = cli("disk").stdout
    assert table.splitlines()[1].split() == ["worktrees", "9", "9", "B", "1"]
    assert "free 1024.0 KiB on the home's file system" in " ".join(table.split())
    checked = cli("disk", "--check")
    assert checked.exit_code == 0 and "(enough)" in checked.stdout


def test_task_turns_lists_each_turn_with_its_final_message(cli: CliRun, live: LiveDaemon) -> None:
    result = cli("task", "submit", "fix it", "--cwd", str(live.plain), "--follow")
    task_id = result.stdout.split("submitted task ", 1)[1].split()[0]
    assert cli("task", "message", task_id, "and the docs").exit_code == 0
    # The message answers once the task is queued again: completed now means turn 2 ended.
    live.run(live.wait_state(task_id, TaskState.COMPLETED))

    listed = TurnList.model_validate_json(cli("task", "turns", task_id[:8], "--json").stdout)
    assert [(t.number, t.final_message) for t in listed.turns] == [
        (1, "done: fix it"),
        (2, "done: and the docs"),
    ]
    plain = cli("task", "turns", task_id).stdout.splitlines()
    assert plain[0].split("\t") == [
        "#",
        "STATUS",
        "TOOK",
        "TOKENS",
        "INPUT",
        "FINAL MESSAGE",
        "TURN ID",
    ]
    assert [line.split("\t")[:2] for line in plain[1:]] == [["1", "completed"], ["2", "completed"]]
    assert plain[2].split("\t")[4:6] == ["and the docs", "done: and the docs"]


def test_a_task_with_options_and_an_image_is_found_by_purpose_and_metadata(
    cli: CliRun, live: LiveDaemon
) -> None:
    (live.plain / "shot.png").write_bytes(b"\x89PNG fake")
    submitted = cli(
        "task", "submit", "fix it", "--cwd", str(live.plain), "--json",
        "--purpose", "review", "--metadata", "ticket=ENG-42", "--config", "model_verbosity=low",
        "--image", str(live.plain / "shot.png"),
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    task = TaskOut.model_validate_json(submitted.stdout)
    cli("task", "submit", "other", "--cwd", str(live.plain), "--purpose", "review")

    found = cli("task", "list", "--purpose", "review", "--metadata", "ticket=ENG-42", "--json")
    refused = cli("task", "submit", "x", "--cwd", str(live.plain), "--config", "sandbox_mode=x")

    assert [t.id for t in TaskList.model_validate_json(found.stdout).tasks] == [task.id]
    assert (task.purpose, task.metadata, task.config) == (
        "review",
        {"ticket": "ENG-42"},
        {"model_verbosity": "low"},
    )
    assert refused.exit_code == 1
    assert "sandbox_mode" in one_error_line(refused)
