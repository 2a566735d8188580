"""A thread's session file kept in the store at a turn end and written back into another
host's Codex home before it resumes the thread."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from codex_runner.domain.hosts import Rollout
from codex_runner.service.thread_carry import ThreadCarrier, rollout_file
from codex_runner.store.memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
THREAD = "01a1ff78-7c7e-7fa2-9a97-f77b589a6092"


def session_file(home: Path, text: str) -> Path:
    path = home / "sessions/2026/01/01" / f"rollout-2026-01-01T00-00-00-{THREAD}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


async def test_a_kept_thread_is_written_back_where_codex_looks_on_another_host(
    tmp_path: Path,
) -> None:
    store = InMemoryStore()
    first, second = tmp_path / "a", tmp_path / "b"
    kept = session_file(first, '{"type":"session_meta"}\n' * 100)
    await ThreadCarrier(store, lambda: first, clock=lambda: T0).keep(THREAD)
    stored = await store.load_rollout(THREAD)
    assert stored is not None and stored.size == kept.stat().st_size
    assert len(stored.content) < stored.size  # compressed
    carrier = ThreadCarrier(store, lambda: second, clock=lambda: T0)
    assert await carrier.restore(THREAD)
    restored = rollout_file(second, THREAD)
    assert restored is not None and restored.read_bytes() == kept.read_bytes()
    assert restored.relative_to(second) == kept.relative_to(first)
    assert not await carrier.restore("no-such-thread")


async def test_a_kept_path_outside_the_sessions_folder_is_never_written(tmp_path: Path) -> None:
    store = InMemoryStore()
    await store.save_rollout(
        Rollout(THREAD, "../../etc/evil.jsonl", b"x\x9c\x03\x00\x00\x00\x00\x01", 0, T0)
    )
    assert not await ThreadCarrier(store, lambda: tmp_path, clock=lambda: T0).restore(THREAD)
    assert not (tmp_path.parent.parent / "etc" / "evil.jsonl").exists()


async def test_an_ephemeral_thread_has_nothing_to_keep(tmp_path: Path) -> None:
    store = InMemoryStore()
    await ThreadCarrier(store, lambda: tmp_path, clock=lambda: T0).keep(THREAD)
    assert await store.load_rollout(THREAD) is None
