"""Switching the running Codex to another release, checking it, and switching back when the
check fails (docs/releases.md).

The rules: with turns running, a switch is refused unless the caller allowed it (the turns
end interrupted) or asked to switch when idle (it then waits for them, at most
``idle_timeout_s``, in the background). The app-server restarts on the new binary and the
readiness check runs on it; when either fails the runtime goes back to the release it ran
before, and the release is marked ``failed``. Every switch, refusal and roll-back is
recorded with who asked, when, and the check's lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from codex_runner.codex.errors import CodexError, TurnBusy
from codex_runner.service.codex_releases import (
    PINNED,
    Pointers,
    Release,
    ReleaseError,
    ReleasesHome,
    SwitchRecord,
)
from codex_runner.service.codex_releases_check import CheckReport, ReleaseCheck
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper

log = logging.getLogger(__name__)


class ReleaseRuntime(Protocol):
    """The Codex runtime as a release switch sees it (AppServerRuntime implements it)."""

    def running_turns(self) -> int: ...

    async def wait_idle(self) -> None:
        """Return once no turn is running."""

    async def switch_codex_home(
        self, codex_home: Path | None, *, force: bool = False, binary: Path | None = None
    ) -> None:
        """Restart on ``binary``; raise TurnBusy while turns run unless ``force``."""


class SwitchRefused(Exception):
    """Turns are running and the caller neither allowed it nor asked to wait."""


@dataclass(frozen=True)
class SwitchAsk:
    """One request to switch: which release, who asks, and what to do about running turns."""

    release: str
    who: str
    allow_active: bool = False
    when_idle: bool = False
    action: str = "use"  # use | rollback


@dataclass(frozen=True)
class SwitchOutcome:
    """A switch done (``record``) or waiting for running turns (``pending``)."""

    record: SwitchRecord | None
    pending: str | None = None


class ReleaseSwitcher:
    """Applies release switches to a running runtime and keeps the pointers and records."""

    def __init__(
        self,
        releases: ReleasesHome,
        runtime: ReleaseRuntime,
        *,
        check: ReleaseCheck,
        idle_timeout_s: float = 1800.0,
        warm_threads: WarmThreadKeeper | None = None,
        on_switched: Callable[[Release], None] = lambda _release: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``on_switched`` is told of the release that runs after each switch (the daemon
        makes its later runtimes on its binary)."""
        self.releases = releases
        self.runtime = runtime
        self._check = check
        self._idle_timeout_s = idle_timeout_s
        self._warm_threads = warm_threads
        self._on_switched = on_switched
        self._clock = clock
        self._lock = asyncio.Lock()
        self._pending: str | None = None
        self._pending_task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> str | None:
        """The release a when-idle switch waits to switch to."""
        return self._pending

    async def use(self, ask: SwitchAsk) -> SwitchOutcome:
        """Switch to ``ask.release``: ReleaseError when it is not installed or already runs,
        SwitchRefused while turns run (and neither allowed nor asked to wait)."""
        target = self.releases.release(ask.release)
        current = self.releases.current()
        if target.name == current.name:
            raise ReleaseError(f"Codex {_named(target)} is already in use")
        busy = self.runtime.running_turns()
        if busy and not ask.allow_active:
            if not ask.when_idle:
                message = (
                    f"{busy} turn(s) running on Codex {_named(current)}; switch with "
                    "--when-idle (after they finish) or --allow-active (interrupts them)"
                )
                self._record(ask, current, target, "refused", message)
                raise SwitchRefused(message)
            self._cancel_pending()
            self._pending = target.name
            self._pending_task = asyncio.create_task(
                self._switch_when_idle(ask, target), name=f"codex-release-switch-{target.name}"
            )
            return SwitchOutcome(None, pending=target.name)
        try:
            return SwitchOutcome(await self._switch(ask, target, force=ask.allow_active))
        except TurnBusy as exc:  # a turn started while the switch began
            raise SwitchRefused(f"{exc}; switch with --when-idle or --allow-active") from None

    async def rollback(self, ask: SwitchAsk) -> SwitchOutcome:
        """Switch to the ``previous`` release (installed already: nothing is downloaded)."""
        previous = self.releases.pointers().previous
        if previous is None:
            raise ReleaseError(
                "no previous Codex release to roll back to: nothing was switched yet"
            )
        return await self.use(
            SwitchAsk(previous, ask.who, ask.allow_active, ask.when_idle, action="rollback")
        )

    async def wait_pending(self, timeout_s: float) -> None:
        """Wait (bounded) until a pending when-idle switch happened or was dropped."""
        if self._pending_task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pending_task), timeout_s)

    async def close(self) -> None:
        """Drop a pending switch (the daemon is stopping)."""
        task = self._pending_task
        self._cancel_pending()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _cancel_pending(self) -> None:
        if self._pending_task is not None and not self._pending_task.done():
            self._pending_task.cancel()
        self._pending_task = None
        self._pending = None

    async def _switch_when_idle(self, ask: SwitchAsk, target: Release) -> None:
        try:
            async with asyncio.timeout(self._idle_timeout_s):
                while True:
                    await self.runtime.wait_idle()
                    try:
                        await self._switch(ask, target, force=False)
                        return
                    except TurnBusy:
                        continue  # a turn started in between: wait for it too
        except TimeoutError:
            message = (
                f"turns still ran after {self._idle_timeout_s:g}s; the switch to Codex "
                f"{_named(target)} was dropped"
            )
            self._record(ask, self.releases.current(), target, "refused", message)
        except Exception:
            log.exception("switching to Codex %s failed", target.name)
        finally:
            if self._pending == target.name:
                self._pending = None

    async def _switch(self, ask: SwitchAsk, target: Release, *, force: bool) -> SwitchRecord:
        async with self._lock:
            before = self.releases.pointers()
            current = self.releases.current()
            if self._warm_threads is not None:
                await self._warm_threads.release_all()  # the new process has none loaded
            report = await self._restart_and_check(target, force=force)
            if report.ok:
                pointers = Pointers(
                    current=target.name,
                    previous=current.name,
                    failed=None if before.failed == target.name else before.failed,
                )
                result, running = "switched", target
                message = f"switched from Codex {_named(current)} to {_named(target)}"
            else:
                result, running = "rolled_back", current
                message = f"Codex {_named(target)} failed its check; back on {_named(current)}"
                pointers = Pointers(before.current, before.previous, failed=target.name)
                try:
                    await self.runtime.switch_codex_home(None, binary=current.binary, force=True)
                    report.lines.append(f"ok: switched back to Codex {_named(current)}")
                except CodexError as exc:
                    result = "failed"
                    message = f"{message}, but restarting on it failed: {exc}"
                    report.lines.append(f"FAILED: switching back: {exc}")
            self.releases.write_pointers(pointers)
            self._on_switched(running)
            log.info("%s", message)
            return self._record(ask, current, target, result, message, report.lines)

    async def _restart_and_check(self, target: Release, *, force: bool) -> CheckReport:
        try:
            await self.runtime.switch_codex_home(None, binary=target.binary, force=force)
        except TurnBusy:
            raise
        except CodexError as exc:
            return CheckReport(False, [f"FAILED: restarting on {target.binary}: {exc}"])
        try:
            report = await self._check(target)
        except Exception as exc:  # a check that cannot run proves nothing: switch back
            log.exception("the readiness check of Codex %s could not run", target.name)
            report = CheckReport(False, [f"FAILED: the check could not run: {exc}"])
        report.lines.insert(0, f"ok: the app-server restarted on {target.binary}")
        return report

    def _record(
        self,
        ask: SwitchAsk,
        current: Release,
        target: Release,
        result: str,
        message: str,
        check: list[str] | None = None,
    ) -> SwitchRecord:
        record = SwitchRecord(
            at=self._clock().isoformat(),
            who=ask.who,
            action=ask.action,
            from_release=current.name,
            to_release=target.name,
            result=result,
            message=message,
            check=check or [],
        )
        self.releases.append_record(record)
        return record


def _named(release: Release) -> str:
    return f"{release.version} (pinned)" if release.name == PINNED else release.name
