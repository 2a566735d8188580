"""A task's commit credits the chat users who asked for its work: the real git worktrees,
a scripted runtime, the chat core's records of who wrote (as a Slack session makes them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, TurnRecorder, write_file
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.coauthors import Coauthors
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.git_worktrees import GitWorktrees

from .waiting import wait_state


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(cwd), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


async def write_when_let_go(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    await rt.gate.wait()  # while the chat's messages are recorded
    await write_file(rt, rec, text)


async def test_the_commit_carries_a_trailer_for_each_requester_with_an_author(
    repo: Path, tmp_path: Path
) -> None:
    store = InMemoryStore()
    coauthors = Coauthors(store)
    await coauthors.set("slack", "U1", "Ann Lee <ann@example.com>")
    await coauthors.infer("slack", "U2", display_name="Bob", email="bob@example.com")
    runtime = ScriptedRuntime(lambda _: write_when_let_go)
    service = TaskService(
        store,
        runtime,
        GitWorktrees(tmp_path / "worktrees"),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=5,
        coauthors=coauthors.trailers,
    )
    await service.start()
    try:
        task = await service.submit("fix the README", WorkspaceRequest.git(str(repo), "main"))
        for user in ("U2", "U3", "U1", "U2"):  # U3 has no author: not credited
            await service.record_event(task.id, "slack.message_received", {"user": user})
        runtime.gate.set()
        done = await wait_state(service, task.id, TaskState.COMPLETED)
    finally:
        await service.stop()
    assert done.branch is not None
    trailers = git(repo, "log", "-1", "--format=%(trailers:key=Co-authored-by)", done.branch)
    assert trailers.splitlines() == [
        "Co-authored-by: Bob <bob@example.com>",
        "Co-authored-by: Ann Lee <ann@example.com>",
    ]
    assert git(repo, "log", "-1", "--format=%s", done.branch) == "fix the README"
