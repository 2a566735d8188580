"""Both runtimes in one daemon: each task's thread lives on the runtime it asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codex_runner.codex.errors import RuntimeUnavailable
from codex_runner.codex.process import PidRegistry
from codex_runner.codex.runtime import CodexRuntime, ThreadOptions, TurnOptions
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.codex.task_runtimes import TaskRuntimes, single_runtime


def scripted(kind: str) -> ScriptedRuntime:
    runtime = ScriptedRuntime(lambda prompt: complete, kind=kind)
    if kind == "exec":
        runtime.threads = 100  # thread ids are unique across runtimes, as Codex's are
    return runtime


async def test_threads_go_to_the_runtime_that_opened_them_and_the_other_is_made_once(
    tmp_path: Path,
) -> None:
    default, other = scripted("app-server"), scripted("exec")
    made: list[str] = []

    def make(kind: str) -> CodexRuntime:
        made.append(kind)
        return other

    runtimes = TaskRuntimes(default, make)
    options = ThreadOptions(cwd=tmp_path)
    on_default = await runtimes.start_thread(options)
    on_exec = await runtimes.start_thread(options, runtime="exec")
    again = await runtimes.resume_thread(on_exec.id, options, runtime="exec")
    assert made == ["exec"] and again.id == on_exec.id
    turn = await runtimes.start_turn(on_exec.id, "hi", options=TurnOptions(effort="low"))
    await turn.wait(5)
    assert [t for t, _ in other.started] == [on_exec.id]
    assert other.turn_options == [TurnOptions(effort="low")]
    await (await runtimes.start_turn(on_default.id, "hello")).wait(5)
    assert [t for t, _ in default.started] == [on_default.id]
    await runtimes.release_thread(on_exec.id)
    assert other.released == [on_exec.id] and default.released == []
    # A thread this router never saw (a restart forgot it) is released everywhere.
    await runtimes.release_thread("unknown")
    assert default.released == ["unknown"] and other.released[-1] == "unknown"


async def test_a_task_moving_to_the_other_runtime_leaves_the_first_one(tmp_path: Path) -> None:
    default, other = scripted("app-server"), scripted("exec")
    runtimes = TaskRuntimes(default, lambda kind: other)
    handle = await runtimes.start_thread(ThreadOptions(cwd=tmp_path))
    await runtimes.resume_thread(handle.id, ThreadOptions(cwd=tmp_path), runtime="exec")
    assert default.released == [handle.id] and other.resumed == [handle.id]


async def test_a_runner_with_one_runtime_refuses_the_other_kind(tmp_path: Path) -> None:
    runtimes = single_runtime(scripted("app-server"))
    with pytest.raises(RuntimeUnavailable, match="only the app-server runtime"):
        await runtimes.start_thread(ThreadOptions(cwd=tmp_path), runtime="exec")


def test_reaping_orphans_never_kills_this_processs_own_live_children(tmp_path: Path) -> None:
    """A runtime started later in the daemon (for a task on the other kind) reaps orphans:
    the children this process still runs are not orphans."""
    registry = PidRegistry(tmp_path)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child just waits to be killed
        os.execvp("sleep", ["sleep", "30"])
    try:
        registry.record(child, ["codex-sleep"])
        (tmp_path / f"codex-{child}.json").write_text(
            json.dumps({"pid": child, "owner": os.getpid(), "argv0": "codex", "at": 0})
        )
        assert PidRegistry(tmp_path).reap_orphans() == []
        assert os.waitpid(child, os.WNOHANG) == (0, 0)  # still running
    finally:
        registry.forget(child)
        os.kill(child, 9)
        os.waitpid(child, 0)
