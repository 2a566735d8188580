"""SessionLocks: one lock per session, forgotten when its last user lets go."""

from __future__ import annotations

import asyncio

import pytest

from codex_runner.bridges.chat.session_locks import SessionLocks


async def test_one_session_runs_one_holder_at_a_time_and_others_are_not_blocked() -> None:
    locks = SessionLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with locks.hold("a"):
            order.append("first in")
            first_in.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        async with locks.hold("a"):
            order.append("second in")

    async def other_session() -> None:
        async with locks.hold("b"):
            order.append("other session")

    async with asyncio.timeout(5):
        holder = asyncio.create_task(first())
        await first_in.wait()
        waiter = asyncio.create_task(second())
        await other_session()  # does not wait for session "a"
        await asyncio.sleep(0)
        assert len(locks) == 1  # "a": held by one, awaited by another; "b" already gone
        release_first.set()
        await asyncio.gather(holder, waiter)

    assert order == ["first in", "other session", "first out", "second in"]
    assert len(locks) == 0


async def test_a_failing_holder_releases_and_forgets_the_lock() -> None:
    locks = SessionLocks()

    with pytest.raises(RuntimeError):
        async with locks.hold("a"):
            raise RuntimeError("boom")

    assert len(locks) == 0
    async with asyncio.timeout(1), locks.hold("a"):
        assert len(locks) == 1
