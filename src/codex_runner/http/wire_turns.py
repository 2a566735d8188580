"""The JSON of a task's turns (``GET /v1/tasks/{id}/turns``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from codex_runner.domain.conversation import Turn, TurnState
from codex_runner.http.wire_tasks import UsageOut

# Enough of a turn's input to recognise it; the whole input is in the task's events.
INPUT_SUMMARY_CHARS = 200


class TurnOut(BaseModel):
    number: int = Field(description="1, 2, ... per task.")
    id: str | None = Field(description="Codex's turn id (null until Codex names the turn).")
    thread_id: str | None
    input_summary: str = Field(description=f"The first {INPUT_SUMMARY_CHARS} characters.")
    status: TurnState
    started_at: datetime
    finished_at: datetime | None
    usage: UsageOut
    error: str | None
    final_message: str | None = Field(description="Codex's last agent message of this turn.")
    result: Any = Field(
        default=None, description="The validated JSON of a turn with an output_schema."
    )
    has_result: bool = False

    @classmethod
    def of(cls, turn: Turn) -> TurnOut:
        u = turn.usage
        return cls(
            number=turn.number,
            id=turn.codex_turn_id,
            thread_id=turn.thread_id,
            input_summary=turn.input[:INPUT_SUMMARY_CHARS],
            status=turn.state,
            started_at=turn.started_at,
            finished_at=turn.finished_at,
            usage=UsageOut.of(u),
            error=turn.error,
            final_message=turn.final_message,
            result=json.loads(turn.result_json) if turn.result_json is not None else None,
            has_result=turn.result_json is not None,
        )


class TurnList(BaseModel):
    task_id: str
    current_turn_id: str | None = Field(
        description="Codex's id of the task's current or last turn; null before the first."
    )
    turns: list[TurnOut]

    @classmethod
    def of(cls, task_id: str, turns: list[Turn]) -> TurnList:
        return cls(
            task_id=task_id,
            current_turn_id=current_turn_id(turns),
            turns=[TurnOut.of(t) for t in turns],
        )


def current_turn_id(turns: list[Turn]) -> str | None:
    """The id of the highest-numbered turn (``turns`` come by number)."""
    return turns[-1].codex_turn_id if turns else None
