"""The runner's home is watched: deleted, replaced, config lost or not writable, each is
named once, refuses new work, holds queued tasks and stops running turns."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, complete, gated
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.home_watch import (
    PROBE_NAME,
    HomeBaseline,
    HomeUnavailable,
    HomeWatch,
    inspect_home,
)
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore

from .waiting import wait_state

WS = WorkspaceRequest.directory("/tmp")


def sound_home(tmp_path: Path) -> HomeBaseline:
    home = tmp_path / "home"
    home.mkdir()
    (home / "runner.sqlite").write_bytes(b"db")
    (home / "config.toml").write_text("")
    return HomeBaseline.take(
        home,
        store_file=home / "runner.sqlite",
        config_files=[home / "config.toml", home / "absent.toml"],
    )


def test_a_sound_home_has_no_problem_and_leaves_no_probe(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    assert inspect_home(baseline) is None
    assert sorted(p.name for p in baseline.path.iterdir()) == ["config.toml", "runner.sqlite"]


def test_a_deleted_home_is_named(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    shutil.rmtree(baseline.path)
    problem = inspect_home(baseline)
    assert problem is not None and "was deleted" in problem and str(baseline.path) in problem


def test_a_home_deleted_and_made_again_is_replaced(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    shutil.rmtree(baseline.path)
    baseline.path.mkdir()
    assert "was replaced" in (inspect_home(baseline) or "")


def test_a_replaced_store_file_is_named(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    store = baseline.path / "runner.sqlite"
    store.unlink()
    store.write_bytes(b"another")
    problem = inspect_home(baseline) or ""
    assert "the store" in problem and "replaced" in problem


def test_a_deleted_config_is_named_but_one_that_never_existed_is_not(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    (baseline.path / "config.toml").unlink()
    problem = inspect_home(baseline) or ""
    assert "config.toml was deleted" in problem and "absent.toml" not in problem


def test_a_home_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    baseline = sound_home(tmp_path)
    # Root writes through permission bits, so stand in the probe's way instead.
    (baseline.path / f"{PROBE_NAME}-{os.getpid()}").mkdir()
    problem = inspect_home(baseline) or ""
    assert "is not writable" in problem


async def test_the_watch_reports_each_change_once_and_gates_admission(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = sound_home(tmp_path)
    seen: list[str | None] = []

    async def changed(problem: str | None) -> None:
        seen.append(problem)

    watch = HomeWatch(baseline, interval_s=60, on_change=changed)
    assert await watch.check() is None
    watch.check_admission()
    blocker = baseline.path / f"{PROBE_NAME}-{os.getpid()}"
    blocker.mkdir()
    for _ in range(3):
        await watch.check()
    with pytest.raises(HomeUnavailable, match="not writable"):
        watch.check_admission()
    blocker.rmdir()
    await watch.check()
    watch.check_admission()
    assert [p is None for p in seen] == [False, True]
    assert caplog.text.count("home unavailable") == 1
    assert "home available again" in caplog.text


async def test_a_hung_file_system_is_a_problem_not_a_stalled_loop(tmp_path: Path) -> None:
    def hangs(_: HomeBaseline) -> str | None:
        import time

        time.sleep(0.5)
        return None

    watch = HomeWatch(sound_home(tmp_path), interval_s=0.01, inspect=hangs)
    assert "does not answer" in (await watch.check() or "")


async def test_the_service_refuses_work_holds_the_queue_and_halts_turns() -> None:
    problem: list[str] = []

    def admission() -> None:
        if problem:
            raise HomeUnavailable(problem[0])

    runtime = ScriptedRuntime(lambda p: gated if p == "long job" else complete)
    service = TaskService(
        InMemoryStore(),
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5,
        admission=admission,
    )
    await service.start()
    try:
        running = await service.submit("long job", WS)
        await wait_state(service, running.id, TaskState.RUNNING)
        problem.append("the runner's home /h was deleted")
        await service.halt_running(problem[0])
        halted = await wait_state(service, running.id, TaskState.INTERRUPTED)
        assert halted.reason == "the runner's home /h was deleted"
        with pytest.raises(HomeUnavailable, match="was deleted"):
            await service.submit("quick", WS)
        with pytest.raises(HomeUnavailable):
            await service.resume(running.id)
        assert not service.admits()
        problem.clear()
        queued = await service.submit("quick", WS)
        service.admission_reopened()
        await wait_state(service, queued.id, TaskState.COMPLETED)
    finally:
        await asyncio.wait_for(service.stop(), 30)
