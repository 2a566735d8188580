"""The notifications outbox contract (store.outbox), against every store: in memory,
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.notify import DeliveryAttempt, DeliveryState, Notification
from codex_runner.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)


@pytest.fixture
def store(every_store: Store) -> Store:
    return every_store


def note(n: int, *, order_key: str = "t_1", url: str = "https://a.test/h") -> Notification:
    return Notification(
        id=f"nt_{n}",
        url=url,
        webhook="ops",
        order_key=order_key,
        kind="task.completed",
        body=f'{{"id":"nt_{n}"}}',
        created_at=T0,
        next_attempt_at=T0,
    )


def ok(at: datetime = T0) -> DeliveryAttempt:
    return DeliveryAttempt(at, status_code=204)


def failed(at: datetime = T0) -> DeliveryAttempt:
    return DeliveryAttempt(at, status_code=500)


async def claim(store: Store, host: str = "h1", now: datetime = T0) -> list[str]:
    found = await store.claim_notifications(
        host, now=now, until=now + timedelta(minutes=5), limit=10
    )
    return [n.id for n in found]


async def test_enqueuing_a_notification_again_keeps_the_one_row(store: Store) -> None:
    assert await store.enqueue_notifications([note(1), note(2)]) == 2
    assert await store.enqueue_notifications([replace(note(1), body="changed"), note(3)]) == 1
    rows = await store.list_notifications()
    assert [n.id for n in rows] == ["nt_3", "nt_2", "nt_1"]
    assert rows[2] == note(1)


async def test_one_task_s_notifications_reach_a_target_in_order_others_go_on(store: Store) -> None:
    await store.enqueue_notifications(
        [note(1), note(2), note(3, order_key="t_2"), note(4, url="https://b.test/h")]
    )
    assert await claim(store) == ["nt_1", "nt_3", "nt_4"]
    # nt_2 waits while nt_1 is retried later; a claim is not handed out twice.
    assert await store.record_notification_attempt("nt_1", "h1", failed(), retry_at=LATER)
    assert await claim(store) == []
    assert await claim(store, now=LATER) == ["nt_1"]
    assert await store.record_notification_attempt("nt_1", "h1", ok(LATER), retry_at=None)
    assert await claim(store, now=LATER) == ["nt_2"]


async def test_each_attempt_is_kept_and_the_last_settles_the_state(store: Store) -> None:
    await store.enqueue_notifications([note(1), note(2, order_key="t_2")])
    await claim(store)
    await store.record_notification_attempt("nt_1", "h1", failed(), retry_at=LATER)
    error = DeliveryAttempt(LATER, error="connection refused")
    await store.record_notification_attempt("nt_2", "h1", error, retry_at=None)
    await claim(store, now=LATER)
    await store.record_notification_attempt("nt_1", "h1", ok(LATER), retry_at=None)
    assert await store.notification_attempts("nt_1") == [failed(), ok(LATER)]
    delivered = await store.list_notifications(state=DeliveryState.DELIVERED)
    assert [(n.id, n.attempts, n.last_status, n.finished_at) for n in delivered] == [
        ("nt_1", 2, 204, LATER)
    ]
    given_up = await store.list_notifications(state=DeliveryState.GIVEN_UP)
    assert [(n.id, n.last_error) for n in given_up] == [("nt_2", "connection refused")]
    assert await store.list_notifications(state=DeliveryState.PENDING) == []


async def test_only_the_host_holding_the_claim_records_and_a_lapsed_claim_is_taken_again(
    store: Store,
) -> None:
    await store.enqueue_notifications([note(1)])
    assert await claim(store, "h1") == ["nt_1"]
    assert await claim(store, "h2") == []
    assert not await store.record_notification_attempt("nt_1", "h2", ok(), retry_at=None)
    lapsed = T0 + timedelta(minutes=5, seconds=1)
    assert await claim(store, "h2", now=lapsed) == ["nt_1"]
    assert not await store.record_notification_attempt("nt_1", "h1", ok(), retry_at=None)
    assert await store.record_notification_attempt("nt_1", "h2", ok(lapsed), retry_at=None)
    assert await store.notification_attempts("nt_1") == [ok(lapsed)]


async def test_hosts_claiming_at_once_never_get_the_same_notification(store: Store) -> None:
    await store.enqueue_notifications([note(n, order_key=f"t_{n}") for n in range(20)])
    got = await asyncio.gather(*(claim(store, f"h{h}") for h in range(4)))
    everyone = [i for ids in got for i in ids]
    assert sorted(everyone) == sorted(f"nt_{n}" for n in range(20))[: len(everyone)]
    assert len(everyone) == len(set(everyone)) == 20


async def test_finished_notifications_are_pruned_once_old_pending_ones_never(
    store: Store,
) -> None:
    await store.enqueue_notifications([note(1), note(2, order_key="t_2"), note(3, order_key="t_3")])
    await claim(store)
    await store.record_notification_attempt("nt_1", "h1", ok(T0), retry_at=None)
    await store.record_notification_attempt("nt_2", "h1", failed(LATER), retry_at=None)
    assert await store.prune_notifications(LATER) == 1  # nt_1 only: nt_2 ended at LATER
    assert await store.notification_attempts("nt_1") == []
    assert await store.prune_notifications(LATER + timedelta(days=30)) == 1
    assert [n.id for n in await store.list_notifications()] == ["nt_3"]


async def test_a_host_starting_again_frees_its_own_claims_only(store: Store) -> None:
    await store.enqueue_notifications([note(1), note(2, order_key="t_2")])
    assert await claim(store, "h1") == ["nt_1", "nt_2"]
    await store.record_notification_attempt("nt_2", "h1", ok(), retry_at=None)
    assert await store.release_notification_claims("h2") == 0
    assert await store.release_notification_claims("h1") == 1
    assert await claim(store, "h2") == ["nt_1"]
