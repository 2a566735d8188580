"""The co-authors contract (store.coauthors), against every store: in memory, SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.store import Store
from codex_runner.store.coauthors import Coauthor, CoauthorSource

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INFERRED, MANUAL = CoauthorSource.INFERRED, CoauthorSource.MANUAL


@pytest.fixture
def store(every_store: Store) -> Store:
    return every_store


def entry(
    user: str,
    author: str | None,
    source: CoauthorSource | None,
    *,
    bridge: str = "slack",
    n: int = 0,
) -> Coauthor:
    return Coauthor(
        bridge, user, author, source, updated_at=T0 + timedelta(seconds=n), display_name=user
    )


async def test_an_entry_written_reads_back_as_it_was(store: Store) -> None:
    assert await store.coauthor("slack", "U1") is None
    assert await store.put_coauthor(entry("U1", "Ann <ann@example.com>", INFERRED))
    assert await store.coauthor("slack", "U1") == entry("U1", "Ann <ann@example.com>", INFERRED)
    assert await store.coauthor("link", "U1") is None  # the bridge is part of the key


async def test_a_manual_entry_is_kept_from_a_write_that_must_not_replace_it(store: Store) -> None:
    await store.put_coauthor(entry("U1", "Ann <ann@home.example>", MANUAL))
    inferred = entry("U1", "Ann <ann@work.example>", INFERRED, n=1)
    assert not await store.put_coauthor(inferred, over_manual=False)
    assert (await store.coauthor("slack", "U1")) == entry("U1", "Ann <ann@home.example>", MANUAL)
    # An inferred one is replaced either way, and a person's write replaces anything.
    await store.put_coauthor(entry("U2", "Bob <b@x.example>", INFERRED))
    assert await store.put_coauthor(entry("U2", "Bob <b@y.example>", INFERRED), over_manual=False)
    assert await store.put_coauthor(entry("U1", None, MANUAL, n=2))
    found = await store.coauthor("slack", "U1")
    assert found is not None and found.author is None and found.source is MANUAL


async def test_a_person_is_offered_once_and_the_mark_survives_their_entry(store: Store) -> None:
    assert await store.mark_coauthor_offered("slack", "U1", T0)
    assert not await store.mark_coauthor_offered("slack", "U1", T0 + timedelta(seconds=1))
    offered = await store.coauthor("slack", "U1")
    assert offered is not None and offered.author is None and offered.offered_at == T0
    await store.put_coauthor(entry("U1", "Ann <ann@example.com>", MANUAL, n=5))
    found = await store.coauthor("slack", "U1")
    assert found is not None and found.author == "Ann <ann@example.com>"
    assert found.offered_at == T0 and found.updated_at == T0 + timedelta(seconds=5)
    # Someone with an entry already can still be marked, once.
    await store.put_coauthor(entry("U2", "Bob <b@x.example>", INFERRED))
    assert await store.mark_coauthor_offered("slack", "U2", T0)


async def test_many_askers_at_once_find_one_offer(store: Store) -> None:
    marks = [store.mark_coauthor_offered("slack", "U9", T0) for _ in range(5)]
    assert sorted(await asyncio.gather(*marks)) == [False, False, False, False, True]


async def test_the_list_is_by_bridge_then_user(store: Store) -> None:
    await store.put_coauthor(entry("U2", "Bob <b@x.example>", MANUAL))
    await store.put_coauthor(entry("U1", "Ann <a@x.example>", INFERRED))
    await store.put_coauthor(entry("7", "Cid <c@x.example>", MANUAL, bridge="link"))
    listed = [(c.bridge, c.user) for c in await store.list_coauthors()]
    assert listed == [("link", "7"), ("slack", "U1"), ("slack", "U2")]
