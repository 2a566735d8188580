"""Notification routes: the outbox of webhook deliveries (docs/notifications.md)."""

from __future__ import annotations

from typing import Literal

from codex_runner.domain.notify import DeliveryState
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router
from codex_runner.http.wire_notify import DeliveryList, DeliveryOut
from codex_runner.service.notify_service import Notifier

MAX_LIMIT = 1000


def notify_routes(notifier: Notifier) -> Router:
    router = Router(prefix="/v1/notify", tags=["notify"], responses=ERROR_RESPONSES)

    @router.get("/deliveries")
    async def deliveries(
        status: Literal["pending", "delivered", "given_up"] | None = None, limit: int = 100
    ) -> DeliveryList:
        """The outbox, newest first: each notification's state and every attempt."""
        state = DeliveryState(status) if status is not None else None
        found = await notifier.deliveries(state, max(1, min(limit, MAX_LIMIT)))
        return DeliveryList(deliveries=[DeliveryOut.of(n, a) for n, a in found])

    return router
