"""GET /v1/notify/deliveries: the outbox behind the token, by status, URLs never whole;
and a task's `notify` on submit checked against [notify]."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from codex_runner.api.app import create_app
from codex_runner.api.routes_notify import notify_routes
from codex_runner.config.notify import NotifySettings
from codex_runner.domain.notify import DeliveryAttempt, Notification
from codex_runner.service.notify_service import Notifier

from .conftest import AUTH, BASE_URL, TOKEN, Harness, make_service

T0 = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://hooks.example.test/services/SECRET-PATH-TOKEN"


def note(n: int) -> Notification:
    return Notification(f"nt_{n}", URL, "ops", f"t_{n}", "task.failed", "{}", T0, T0)


async def test_the_outbox_lists_deliveries_by_status_with_their_attempts(tmp_path: Path) -> None:
    service, _, store, bus, _ = make_service(tmp_path)
    settings = NotifySettings.model_validate(
        {"webhooks": [{"url": URL, "secret": "s" * 20, "name": "ops"}]}
    )
    notifier = Notifier(store, bus, settings, host_id="h1", clock=lambda: T0)
    app = create_app(service, token=TOKEN, ready=lambda: True, routers=[notify_routes(notifier)])
    await store.enqueue_notifications([note(1), note(2)])
    await store.claim_notifications("h1", now=T0, until=T0, limit=1)
    await store.record_notification_attempt(
        "nt_1", "h1", DeliveryAttempt(T0, status_code=204), retry_at=None
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            assert (await client.get("/v1/notify/deliveries")).status_code == 401
            everything = (await client.get("/v1/notify/deliveries", headers=AUTH)).json()
            delivered = await client.get("/v1/notify/deliveries?status=delivered", headers=AUTH)
            bad = await client.get("/v1/notify/deliveries?status=done", headers=AUTH)
    finally:
        await notifier.stop()
    assert [d["id"] for d in everything["deliveries"]] == ["nt_2", "nt_1"]
    [one] = delivered.json()["deliveries"]
    assert (one["id"], one["state"], one["webhook"]) == ("nt_1", "delivered", "ops")
    assert [a["status_code"] for a in one["attempts"]] == [204]
    assert one["url"] == "https://hooks.example.test/…"
    assert "SECRET-PATH-TOKEN" not in str(everything)
    assert bad.status_code == 422 and "status" in bad.text


async def test_a_submit_whose_notify_names_no_webhook_is_refused_naming_the_fix(
    harness: Harness,
) -> None:
    body = {"prompt": "hello", "cwd": str(harness.plain_dir), "notify": ["ops"]}
    refused = await harness.client.post("/v1/tasks", json=body, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "notify"
    assert "[[notify.webhooks]]" in refused.json()["error"]["message"]
