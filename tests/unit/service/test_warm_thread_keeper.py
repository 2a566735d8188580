import asyncio
from typing import cast

from codex_runner.codex.runtime import CodexRuntime
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper


class ReleasingRuntime:
    """Records which threads were released; the first in ``failing`` raises once."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.released: list[str] = []
        self.failing = set(failing)
        self.any_released = asyncio.Event()

    async def release_thread(self, thread_id: str) -> None:
        if thread_id in self.failing:
            self.failing.discard(thread_id)
            raise RuntimeError("transport closed")
        self.released.append(thread_id)
        self.any_released.set()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _keeper(runtime: ReleasingRuntime, clock: FakeClock, limit: int = 2) -> WarmThreadKeeper:
    return WarmThreadKeeper(cast(CodexRuntime, runtime), limit=limit, idle_s=300, clock=clock)


async def test_threads_past_the_count_bound_are_released_least_recent_first() -> None:
    runtime = ReleasingRuntime()
    keeper = _keeper(runtime, FakeClock())
    for i in range(6):
        await keeper.keep(f"t{i}")
    assert runtime.released == ["t0", "t1", "t2", "t3"]
    assert len(keeper) == 2


async def test_a_thread_taken_for_a_turn_is_not_released_while_it_runs() -> None:
    runtime = ReleasingRuntime()
    keeper = _keeper(runtime, FakeClock(), limit=1)
    await keeper.keep("a")
    keeper.take("a")
    await keeper.keep("b")
    assert runtime.released == []
    await keeper.release_all()
    assert runtime.released == ["b"]


async def test_the_timer_releases_a_thread_once_it_has_been_idle_too_long() -> None:
    runtime = ReleasingRuntime()
    clock = FakeClock()
    keeper = _keeper(runtime, clock, limit=8)
    keeper.start()
    await keeper.keep("old")
    clock.now = 250
    await keeper.keep("new")
    clock.now = 301
    await keeper.keep("newest")  # wakes the timer, which now finds "old" overdue
    await asyncio.wait_for(runtime.any_released.wait(), 5)
    assert runtime.released == ["old"]
    assert "new" in keeper and "newest" in keeper
    await keeper.close()
    assert sorted(runtime.released) == ["new", "newest", "old"]


async def test_cancelling_a_task_releases_its_warm_thread_and_nothing_else() -> None:
    runtime = ReleasingRuntime()
    keeper = _keeper(runtime, FakeClock())
    await keeper.keep("a")
    await keeper.release("a")
    await keeper.release("a")
    await keeper.release("never-warm")
    await keeper.release(None)
    assert runtime.released == ["a"]


async def test_a_failed_release_is_logged_not_raised_and_the_rest_go_on() -> None:
    runtime = ReleasingRuntime(failing=frozenset({"a"}))
    keeper = _keeper(runtime, FakeClock())
    await keeper.keep("a")
    await keeper.keep("b")
    await keeper.release_all()
    assert runtime.released == ["b"]
    assert len(keeper) == 0
