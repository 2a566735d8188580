"""The wire schema of ``/readyz``'s refusal: the error, and each failing check."""

from __future__ import annotations

from pydantic import BaseModel, Field

from codex_runner.http.wire import ErrorOut


class NotReadyCheckOut(BaseModel):
    check: str = Field(description="The failing check: store, codex, home or daemon.")
    reason: str


class NotReadyOut(ErrorOut):
    not_ready: list[NotReadyCheckOut] = Field(
        default_factory=list, description="One entry per failing check, in start order."
    )
