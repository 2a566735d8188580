"""How long the daemon took to start, step by step, logged once it is ready.

A restart is not over until the API answers and every task a crash left behind is
reconciled, so each step is timed where it runs and the whole is reported in the daemon's
log (``daemon ready in …``, with the steps as structured fields), which is also where the
restart benchmark reads them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import TypeVar

import codex_runner

T = TypeVar("T")


@dataclass
class StartupTimes:
    """Seconds per step. Codex starts while the store reconciles, so those two overlap."""

    imports_s: float = 0.0  # codex_runner first imported -> the daemon starts
    store_s: float = 0.0  # the store opened (migrations checked)
    reconcile_s: float = 0.0  # crashed tasks reconciled
    codex_s: float = 0.0  # the Codex runtime started and initialized
    http_s: float = 0.0  # the HTTP server listening
    total_s: float = 0.0  # codex_runner first imported -> ready

    def fields(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def since_import() -> float:
    """Seconds since the codex_runner package was first imported (near process start)."""
    return time.perf_counter() - codex_runner.IMPORTED_AT


async def timed(step: Awaitable[T], times: StartupTimes, name: str) -> T:
    """Await ``step``, recording its duration as ``times.<name>``."""
    started = time.perf_counter()
    try:
        return await step
    finally:
        setattr(times, name, time.perf_counter() - started)
