"""Turn records: what the store keeps about each turn of a task."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from codex_runner.codex.runtime import TurnResult
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.conversation import TurnState
from codex_runner.domain.events import TurnStatus


def finished_turn(record: TurnRecord, result: TurnResult | None, now: datetime) -> TurnRecord:
    if result is None:
        return replace(
            record, state=TurnState.FAILED, finished_at=now, error="max runtime exceeded"
        )
    state = {
        TurnStatus.COMPLETED: TurnState.COMPLETED,
        TurnStatus.INTERRUPTED: TurnState.INTERRUPTED,
    }.get(result.status, TurnState.FAILED)
    return replace(
        record,
        state=state,
        finished_at=now,
        usage=result.usage,
        codex_turn_id=result.turn_id or record.codex_turn_id,
        error=result.error.message if result.error is not None else None,
        final_message=result.final_message,
    )
