"""Turn records: what the store keeps about each turn of a task, and what a turn's result
says (a crash, a reply that missed its output schema)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from codex_runner.codex.runtime import TurnResult
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.conversation import TurnState
from codex_runner.domain.events import ErrorInfo, FailureClass, TurnStatus
from codex_runner.service.structured_results import StructuredResult


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


def checked_result(result: TurnResult, structured: StructuredResult) -> TurnResult:
    """A completed turn whose reply missed its output schema fails, keeping the reply."""
    if structured.ok:
        return result
    message = f"output_schema_mismatch: {structured.problem}"
    error = ErrorInfo(message, FailureClass.OUTPUT_SCHEMA_MISMATCH)
    return replace(result, status=TurnStatus.FAILED, error=error)


def schema_mismatched(result: TurnResult) -> bool:
    return (
        result.error is not None
        and result.error.failure_class is FailureClass.OUTPUT_SCHEMA_MISMATCH
    )


def error_text(result: TurnResult) -> str:
    return result.error.message if result.error is not None else "turn failed"


def crashed(result: TurnResult) -> bool:
    """Codex went away before the turn completed (its app-server died or was killed)."""
    return (
        result.status not in (TurnStatus.COMPLETED, TurnStatus.INTERRUPTED)
        and result.error is not None
        and result.error.failure_class is FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED
    )
