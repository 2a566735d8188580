"""Switching the active auth profile of a running runner.

The rule: with no turn running, restart the Codex runtime on the new profile's Codex home at
once. With turns running, refuse, unless the caller asked to switch when idle (the switch
waits for those turns to end) or to force it (running turns end interrupted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from codex_runner.auth.profile_store import ProfileStore
from codex_runner.codex.errors import TurnBusy
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper

log = logging.getLogger(__name__)


class SwitchMode(StrEnum):
    NOW = "now"
    WHEN_IDLE = "when_idle"
    FORCE = "force"


class SwitchableRuntime(Protocol):
    """The Codex runtime as a profile switch sees it (AppServerRuntime implements it)."""

    def running_turns(self) -> int: ...

    async def wait_idle(self) -> None:
        """Return once no turn is running."""

    async def switch_codex_home(self, codex_home: Path, *, force: bool = False) -> None:
        """Restart on ``codex_home``; raise TurnBusy while turns run unless ``force``."""


class SwitchRefused(Exception):
    """Turns are running and the caller asked for an immediate switch."""


@dataclass(frozen=True)
class SwitchOutcome:
    active: str
    pending: str | None
    applied: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "pending": self.pending,
            "applied": self.applied,
            "message": self.message,
        }


class ProfileSwitcher:
    """Applies profile switches to a running runtime and records the active profile."""

    def __init__(
        self,
        store: ProfileStore,
        runtime: SwitchableRuntime,
        *,
        warm_threads: WarmThreadKeeper | None = None,
    ) -> None:
        """``warm_threads`` are released before each switch: the new Codex home's process
        would not have them loaded, and the old one's memory should not outlive it."""
        self.store = store
        self.runtime = runtime
        self._warm_threads = warm_threads
        self._lock = asyncio.Lock()
        self._pending: str | None = None
        self._pending_task: asyncio.Task[None] | None = None
        self.last_error: str | None = None  # why the last when-idle switch failed

    @property
    def active(self) -> str:
        return self.store.active()

    @property
    def pending(self) -> str | None:
        return self._pending

    async def switch(self, name: str, mode: SwitchMode = SwitchMode.NOW) -> SwitchOutcome:
        """Switch to profile ``name`` (ProfileError when it does not exist)."""
        self.store.require(name)
        busy = self.runtime.running_turns()
        if busy and mode is SwitchMode.NOW:
            raise SwitchRefused(
                f"{busy} turn(s) running on auth profile {self.active!r}; switch with "
                "--when-idle (after they finish) or --force (interrupts them)"
            )
        self._cancel_pending()
        if busy and mode is SwitchMode.WHEN_IDLE:
            self._pending = name
            self._pending_task = asyncio.create_task(
                self._apply_when_idle(name), name=f"auth-profile-switch-{name}"
            )
            return SwitchOutcome(
                self.active,
                name,
                False,
                f"switching to {name!r} once the {busy} running turn(s) finish",
            )
        await self._apply(name, force=mode is SwitchMode.FORCE)
        return SwitchOutcome(name, None, True, f"switched to auth profile {name!r}")

    async def close(self) -> None:
        """Drop a pending switch (the runner is stopping)."""
        task = self._pending_task
        self._cancel_pending()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_pending(self) -> None:
        """Wait until a pending when-idle switch was applied (or dropped)."""
        if self._pending_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._pending_task)

    def _cancel_pending(self) -> None:
        if self._pending_task is not None and not self._pending_task.done():
            self._pending_task.cancel()
        self._pending_task = None
        self._pending = None

    async def _apply(self, name: str, *, force: bool) -> None:
        self.last_error = None
        async with self._lock:
            if self._warm_threads is not None:
                await self._warm_threads.release_all()
            await self.runtime.switch_codex_home(self.store.codex_home(name), force=force)
            # Recorded after the runtime runs on the new home: a failed restart leaves the
            # old profile active on disk too.
            self.store.set_active(name)
            log.info("auth profile switched to %s", name)

    async def _apply_when_idle(self, name: str) -> None:
        try:
            while True:
                await self.runtime.wait_idle()
                try:
                    await self._apply(name, force=False)
                    return
                except TurnBusy:
                    continue  # a turn started in between: wait for it too
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = f"switching to auth profile {name!r} failed: {exc}"
            log.exception("switching to auth profile %s failed", name)
        finally:
            if self._pending == name:
                self._pending = None
