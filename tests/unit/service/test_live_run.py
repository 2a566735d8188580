from __future__ import annotations

from codex_runner.domain.transitions import Action
from codex_runner.service.live_run import CrashHistory, LiveRun


class Turn:
    def __init__(self) -> None:
        self.interrupts = 0

    async def interrupt(self) -> None:
        self.interrupts += 1


def test_an_interrupted_turn_says_why_in_order_of_who_asked() -> None:
    run = LiveRun("t1", CrashHistory())
    assert run.interrupt_reason(None) == "interrupted by request"  # Codex's own, say
    run.shutdown_reason = "the daemon stopped"
    assert run.interrupt_reason(None) == "the daemon stopped"
    assert run.interrupt_reason("approval a_1 expired") == "approval a_1 expired"
    run.stop_action = Action.INTERRUPT
    assert run.interrupt_reason("approval a_1 expired") == "interrupted by request"
    run.stop_reason = "the home became unavailable"
    assert run.interrupt_reason("approval a_1 expired") == "the home became unavailable"


def test_a_stop_request_names_its_action_unless_a_reason_was_given() -> None:
    run = LiveRun("t1", CrashHistory())
    run.stop_action = Action.CANCEL
    assert run.stop_request_reason() == "cancelled by request"
    run.stop_action = Action.INTERRUPT
    assert run.stop_request_reason() == "interrupted by request"
    run.stop_reason = "the home became unavailable"
    assert run.stop_request_reason() == "the home became unavailable"


async def test_a_stop_interrupts_the_live_turn_or_waits_for_the_runner_to_see_it() -> None:
    early = LiveRun("t1", CrashHistory())
    await early.request_stop(Action.CANCEL)  # no turn yet: the runner honours it later
    assert early.stop_requested and early.stop_action is Action.CANCEL
    run = LiveRun("t2", CrashHistory(suspect=True, crashes=1))
    turn = Turn()
    run.turn = turn  # type: ignore[assignment]
    assert not run.stop_requested
    await run.request_stop(Action.INTERRUPT)
    assert turn.interrupts == 1
