"""Carrying a task's Codex thread between hosts: at every turn end the thread's session file
(Codex's rollout, under its home's ``sessions/``) is copied into the shared store; before a
host resumes a thread its own Codex home lacks, the copy is written back where Codex looks,
so ``thread/resume`` finds the same thread with its whole history instead of a
replacement that only knows the task's prompt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from codex_runner.domain.hosts import Rollout
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

# A larger rollout is not carried (the next host starts a replacement thread with context).
MAX_ROLLOUT_BYTES = 64 * 1024 * 1024


def rollout_file(codex_home: Path, thread_id: str) -> Path | None:
    """The thread's session file in ``codex_home``, None when Codex has none (ephemeral)."""
    found = sorted((codex_home / "sessions").glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))
    return found[-1] if found else None


class ThreadCarrier:
    def __init__(
        self, store: Store, codex_home: Callable[[], Path], *, clock: Callable[[], datetime]
    ) -> None:
        """``codex_home()`` is read at each use: an auth profile switch moves it."""
        self._store = store
        self._codex_home = codex_home
        self._clock = clock

    async def keep(self, thread_id: str) -> None:
        """Copy the thread's session file into the store (at a turn end). Never raises: a
        thread that cannot be carried is replaced on the next host, not lost."""
        try:
            rollout = await asyncio.to_thread(self._read, thread_id)
            if rollout is not None:
                await self._store.save_rollout(rollout)
        except Exception:
            log.warning("could not keep thread %s for other hosts", thread_id, exc_info=True)

    async def restore(self, thread_id: str) -> bool:
        """Write the thread's kept session file into this host's Codex home unless it is
        there already; whether the thread's history is here now."""
        home = self._codex_home()
        if await asyncio.to_thread(rollout_file, home, thread_id) is not None:
            return True
        try:
            rollout = await self._store.load_rollout(thread_id)
            if rollout is None:
                return False
            await asyncio.to_thread(_write, home, rollout)
            return True
        except Exception:
            log.warning("could not restore thread %s here", thread_id, exc_info=True)
            return False

    def _read(self, thread_id: str) -> Rollout | None:
        home = self._codex_home()
        path = rollout_file(home, thread_id)
        if path is None:
            return None
        data = path.read_bytes()
        if len(data) > MAX_ROLLOUT_BYTES:
            log.warning("thread %s is %d bytes: too large to carry", thread_id, len(data))
            return None
        relative = str(path.relative_to(home))
        return Rollout(thread_id, relative, zlib.compress(data, 6), len(data), self._clock())


def _write(home: Path, rollout: Rollout) -> None:
    target = (home / rollout.path).resolve()
    if not target.is_relative_to((home / "sessions").resolve()):
        raise ValueError(f"rollout path {rollout.path!r} is outside the Codex home's sessions")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(zlib.decompress(rollout.content))
    os.replace(partial, target)  # Codex never reads half a file
