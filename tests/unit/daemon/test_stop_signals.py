"""SIGINT and SIGTERM ask for the same graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from codex_runner.daemon.stop_signals import StopRequested, StopSignals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_wakes_the_waiter_and_names_itself(sig: signal.Signals) -> None:
    with StopSignals() as signals:
        os.kill(os.getpid(), sig)
        await asyncio.wait_for(signals.wait(), 10)
    assert signals.received is sig
    assert sig.name in signals.reason


async def test_a_stop_during_a_step_cancels_it() -> None:
    cancelled = asyncio.Event()

    async def starting() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with StopSignals() as signals:
        asyncio.get_running_loop().call_soon(signals.stop)
        with pytest.raises(StopRequested):
            await asyncio.wait_for(signals.unless_stopped(starting()), 10)
    assert cancelled.is_set()


async def test_a_step_that_finishes_first_returns_its_result() -> None:
    async def quick() -> int:
        return 7

    with StopSignals() as signals:
        assert await signals.unless_stopped(quick()) == 7


async def test_a_second_signal_does_not_change_the_reason() -> None:
    with StopSignals() as signals:
        signals.stop(signal.SIGINT)
        signals.stop(signal.SIGTERM)
    assert signals.received is signal.SIGINT
