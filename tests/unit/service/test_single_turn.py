"""``run --continue``: which thread a directory's last run left, and the error when none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from codex_runner.service.single_turn import NoEarlierRun, continued_thread
from codex_runner.store.memory import InMemoryStore

T0 = datetime(2026, 1, 2, tzinfo=UTC)


async def test_continue_finds_the_directorys_last_thread(tmp_path: Path) -> None:
    store = InMemoryStore()
    await store.record_directory_thread(str(tmp_path), "th_1", T0)
    await store.record_directory_thread(str(tmp_path), "th_2", T0)
    assert await continued_thread(store, tmp_path) == "th_2"


async def test_continue_where_nothing_ran_names_the_directory_and_the_fix(tmp_path: Path) -> None:
    store = InMemoryStore()
    await store.record_directory_thread(str(tmp_path / "other"), "th_1", T0)
    with pytest.raises(NoEarlierRun) as caught:
        await continued_thread(store, tmp_path)
    assert str(caught.value) == f"no earlier `run` in {tmp_path}; run without --continue"
