"""The JSON of the notifications outbox (``GET /v1/notify/deliveries``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from codex_runner.domain.notify import DeliveryAttempt, Notification


def shown_url(url: str) -> str:
    """A webhook URL without its path and query, which often carry the receiver's token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None = Field(description="What the receiver answered; null: no answer.")
    error: str | None = Field(description="Why no answer came (timeout, refused...).")


class DeliveryOut(BaseModel):
    id: str = Field(description="The notification's id: its body's `id`, the receiver's key.")
    kind: str
    state: str = Field(description="pending, delivered or given_up.")
    webhook: str | None = Field(description="The configured webhook; null: a task's own URL.")
    url: str = Field(description="The receiver's scheme and host (path and query hidden).")
    order_key: str = Field(description="The task (or disk) delivered in order with others.")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending).")
    finished_at: datetime | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, row: Notification, attempts: list[DeliveryAttempt]) -> DeliveryOut:
        pending = row.state.value == "pending"
        return cls(
            id=row.id,
            kind=row.kind,
            state=row.state.value,
            webhook=row.webhook,
            url=shown_url(row.url),
            order_key=row.order_key,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if pending else None,
            finished_at=row.finished_at,
            attempts=[
                AttemptOut(at=a.at, status_code=a.status_code, error=a.error) for a in attempts
            ],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
