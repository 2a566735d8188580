"""The idle watchdog of an app-server turn, and the reconciliation of a stalled one.

``turn/completed`` sometimes never arrives (see CODEX_NOTES.md). A turn is done only when
Codex says so; when nothing has come for ``turn_idle_timeout_s`` (a parked approval is a
human's time, not idleness), the watchdog asks ``thread/read`` what happened: a turn Codex
finished is settled with its status, anything else is failed as idle and interrupted.
"""

from __future__ import annotations

import contextlib
import time

from codex_runner.codex import app_server_events as wire
from codex_runner.codex.app_server_turn import AppServerTurn
from codex_runner.codex.errors import CodexError
from codex_runner.domain.events import CodexEvent, EventKind, ItemType, TurnStatus

_SETTLED = ("completed", "failed", "interrupted")


async def watch_turn(turn: AppServerTurn, idle_s: float) -> None:
    """Run until the turn ends, or reconcile it after ``idle_s`` seconds without an event."""
    while not turn.done:
        if turn.pending_approvals:  # waiting on a human is not idleness
            turn.recorder.last_activity = time.monotonic()
        remaining = turn.recorder.last_activity + idle_s - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await turn.wait(remaining)
            continue
        await reconcile_stalled(turn, idle_s)
        return


async def reconcile_stalled(turn: AppServerTurn, idle_s: float) -> None:
    """No event for ``idle_s`` seconds: ask Codex what happened to the turn."""
    status = await _read_status(turn)
    if turn.done:
        return
    if status in _SETTLED:
        turn.recorder.emit(
            CodexEvent(
                EventKind.WARNING,
                thread_id=turn.thread_id,
                turn_id=turn.id,
                message=f"turn/completed never arrived; thread/read says {status}",
            )
        )
        turn.finish(TurnStatus(status), turn.last_error or turn.recorder.last_error)
        return
    # Settle the result before interrupting: Codex answers the interrupt with its own
    # turn/completed (status interrupted), which must not replace the real reason.
    turn.force_pending_approvals()
    turn.recorder.fail_idle(
        f"no event from Codex for {idle_s:g}s (turn {status or 'unknown'} in thread/read), "
        "so the turn was interrupted",
        idle_s,
    )
    with contextlib.suppress(CodexError):
        await turn.channel.request(
            "turn/interrupt", {"threadId": turn.thread_id, "turnId": turn.id}
        )


async def _read_status(turn: AppServerTurn) -> str | None:
    """The turn's status in ``thread/read`` (None when unknown); records a final message
    Codex has but never sent, so the turn's result keeps it."""
    status = None
    with contextlib.suppress(CodexError, KeyError, TypeError):
        result = await turn.channel.request(
            "thread/read", {"threadId": turn.thread_id, "includeTurns": True}
        )
        for wire_turn in result["thread"].get("turns") or []:
            if wire_turn.get("id") != turn.id:
                continue
            status = wire_turn.get("status")
            for raw in wire_turn.get("items") or []:
                item = wire.item_from_wire(raw)
                if item.type is ItemType.AGENT_MESSAGE and turn.recorder.final_message is None:
                    turn.recorder.emit(
                        CodexEvent(EventKind.ITEM_COMPLETED, turn.thread_id, turn.id, item)
                    )
    return status if isinstance(status, str) else None
