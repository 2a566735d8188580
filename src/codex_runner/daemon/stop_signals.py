"""SIGINT and SIGTERM both stop the daemon gracefully.

systemd, container runtimes and ``kill`` stop a service with SIGTERM, so it must do what
Ctrl-C does: running tasks interrupted with a reason, Codex reaped, run files removed, all
within the shutdown grace. uvicorn would otherwise catch the signal itself and re-raise it
once its server stops, and the default SIGTERM action then ends the process before any of
that cleanup runs; the daemon's server therefore leaves signals to this module.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

T = TypeVar("T")


class StopRequested(Exception):
    """A stop signal arrived while the daemon was still starting."""


class StopSignals:
    """Records the first stop signal and wakes whoever waits for it; a context manager
    that installs its handlers on the running loop and removes them on exit."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._loop is not None and not self._loop.is_closed():
            for sig in STOP_SIGNALS:
                self._loop.remove_signal_handler(sig)
        self._loop = None

    @property
    def reason(self) -> str:
        """Why the daemon stops, for the tasks it interrupts and its log."""
        name = self.received.name if self.received is not None else "a request"
        return f"the daemon stopped ({name}); resume the task to continue"

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Ask for a stop as if ``sig`` arrived (tests, and the signal handler)."""
        self._on_signal(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.received is not None:
            log.warning("already stopping (%s received again); waiting for the grace", sig.name)
            return
        self.received = sig
        log.info("%s received: stopping", sig.name)
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    async def unless_stopped(self, step: Awaitable[T]) -> T:
        """Await ``step``; a stop signal meanwhile cancels it and raises StopRequested."""
        work = asyncio.ensure_future(step)
        stopped = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled from outside: the step goes with us
            work.cancel()
            raise
        finally:
            stopped.cancel()
        if work.done():
            return work.result()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        raise StopRequested(self.reason)
