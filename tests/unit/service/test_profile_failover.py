"""Profile failover wired into the task service: a usage-limit failure switches and retries."""

from __future__ import annotations

from pathlib import Path

from codex_runner.auth.failover_rules import FailoverDecision
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.codex.runtime import TurnRecorder
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.config import AuthSettings
from codex_runner.domain.events import ErrorInfo, FailureClass
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.profile_failover import ProfileFailover
from codex_runner.service.profile_switch import ProfileSwitcher
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore

from .waiting import settled


async def quota(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    rec.fail(FailureClass.USAGE_LIMIT, "You've hit your usage limit.")


class Switches:
    """The runtime as the profile switcher sees it: records the homes it restarted on."""

    def __init__(self) -> None:
        self.homes: list[Path] = []

    def running_turns(self) -> int:
        return 0

    async def wait_idle(self) -> None:
        return None

    async def switch_codex_home(self, codex_home: Path, *, force: bool = False) -> None:
        self.homes.append(codex_home)


def service_with(failover: ProfileFailover | None, runtime: ScriptedRuntime) -> TaskService:
    service = TaskService(
        InMemoryStore(),
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=5,
        failover=failover,
    )
    return service


def profiles(home: Path) -> ProfileStore:
    store = ProfileStore(home)
    store.create("backup")
    return store


async def test_a_usage_limit_switches_profile_and_the_retry_completes(tmp_path: Path) -> None:
    store = profiles(tmp_path)
    assert "backup" in store.names()
    switches = Switches()
    failover = ProfileFailover(AuthSettings(failover=True), store, ProfileSwitcher(store, switches))
    runtime = ScriptedRuntime(lambda p: quota if p == "big job" else complete)
    service = service_with(failover, runtime)
    await service.start()
    try:
        task = await service.submit("big job", WorkspaceRequest.directory(str(tmp_path)))
        done = await settled(service, task.id)
    finally:
        await service.stop()
    assert done.state is TaskState.COMPLETED
    assert store.active() == "backup"
    assert switches.homes == [store.codex_home("backup")]
    events = await service.read_events(task.id)
    (switched,) = [e for e in events if e.type == "auth.failover"]
    assert switched.data["from"] == "default" and switched.data["to"] == "backup"


async def test_without_failover_a_usage_limit_fails_the_task(tmp_path: Path) -> None:
    runtime = ScriptedRuntime(lambda _: quota)
    service = service_with(None, runtime)
    await service.start()
    try:
        task = await service.submit("big job", WorkspaceRequest.directory(str(tmp_path)))
        done = await settled(service, task.id)
    finally:
        await service.stop()
    assert done.state is TaskState.FAILED
    assert done.reason == "You've hit your usage limit."


async def test_every_profile_is_tried_at_most_once_per_turn(tmp_path: Path) -> None:
    store = profiles(tmp_path)
    failover = ProfileFailover(
        AuthSettings(failover=True), store, ProfileSwitcher(store, Switches())
    )
    error = ErrorInfo("You've hit your usage limit.", FailureClass.USAGE_LIMIT)
    first = await failover.after_failure("t_1", error)
    assert isinstance(first, FailoverDecision) and first.to_profile == "backup"
    assert await failover.after_failure("t_1", error) is None  # default was tried already
