"""Switching auth profiles: refused while turns run, applied when idle, forced on request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from codex_runner.auth.profile_store import ProfileError, ProfileStore
from codex_runner.codex.errors import TurnBusy
from codex_runner.codex.runtime import CodexRuntime
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode, SwitchRefused
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper

from .turn_counting import TurnCounting


class FakeRuntime(TurnCounting):
    """Counts running turns; records the Codex homes it was restarted on."""

    def __init__(self) -> None:
        super().__init__()
        self.homes: list[tuple[Path, bool]] = []

    async def switch_codex_home(self, codex_home: Path, *, force: bool = False) -> None:
        if self.turns and not force:
            raise TurnBusy("busy")
        self.homes.append((codex_home, force))


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    store = ProfileStore(tmp_path)
    store.create("alice")
    store.create("bob")
    return store


async def test_an_idle_runtime_restarts_on_the_new_profile_at_once(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    switcher = ProfileSwitcher(store, runtime)
    outcome = await switcher.switch("alice")
    assert outcome.applied and outcome.active == "alice"
    assert runtime.homes == [(store.codex_home("alice"), False)]
    assert store.active() == "alice"


async def test_a_switch_is_refused_while_a_turn_runs(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    switcher = ProfileSwitcher(store, runtime)
    with pytest.raises(SwitchRefused, match=r"--when-idle .* --force"):
        await switcher.switch("alice", SwitchMode.NOW)
    assert runtime.homes == [] and store.active() == "default"


async def test_when_idle_waits_for_running_turns_to_finish(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    switcher = ProfileSwitcher(store, runtime)
    outcome = await switcher.switch("alice", SwitchMode.WHEN_IDLE)
    assert not outcome.applied and outcome.pending == "alice"
    assert switcher.pending == "alice" and store.active() == "default"
    runtime.end_turn()
    await asyncio.wait_for(switcher.wait_pending(), 5)
    assert store.active() == "alice" and switcher.pending is None
    assert runtime.homes == [(store.codex_home("alice"), False)]


async def test_a_newer_request_replaces_a_pending_switch(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    switcher = ProfileSwitcher(store, runtime)
    await switcher.switch("alice", SwitchMode.WHEN_IDLE)
    await switcher.switch("bob", SwitchMode.WHEN_IDLE)
    runtime.end_turn()
    await asyncio.wait_for(switcher.wait_pending(), 5)
    assert store.active() == "bob"
    assert runtime.homes == [(store.codex_home("bob"), False)]


async def test_force_switches_while_turns_run(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    switcher = ProfileSwitcher(store, runtime)
    outcome = await switcher.switch("bob", SwitchMode.FORCE)
    assert outcome.applied and store.active() == "bob"
    assert runtime.homes == [(store.codex_home("bob"), True)]


async def test_an_unknown_profile_is_refused_before_anything_changes(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    switcher = ProfileSwitcher(store, runtime)
    with pytest.raises(ProfileError):
        await switcher.switch("nobody")
    assert runtime.homes == []


async def test_close_drops_a_pending_switch(store: ProfileStore) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    switcher = ProfileSwitcher(store, runtime)
    await switcher.switch("alice", SwitchMode.WHEN_IDLE)
    await switcher.close()
    runtime.end_turn()
    assert switcher.pending is None and store.active() == "default" and runtime.homes == []


async def test_warm_threads_are_released_before_the_runtime_switches(
    store: ProfileStore,
) -> None:
    runtime = FakeRuntime()
    order: list[str] = []

    class Releasing:
        async def release_thread(self, thread_id: str) -> None:
            assert runtime.homes == [], "released after the switch"
            order.append(thread_id)

    warm = WarmThreadKeeper(cast(CodexRuntime, Releasing()), limit=4, idle_s=300)
    await warm.keep("th1")
    switcher = ProfileSwitcher(store, runtime, warm_threads=warm)
    await switcher.switch("alice")
    assert order == ["th1"] and len(warm) == 0
    assert runtime.homes == [(store.codex_home("alice"), False)]
