"""When the runtime tries to reach its app-server again after losing it, and when it stops.

A child the runner owns that keeps crashing is a fault to surface: more than
``max_restarts`` crashes within ``restart_window_s`` stop the runtime with a clear error
instead of looping. An app-server something else started (``[codex] url``) going away is
not the runner's crash: its owner restarts it, so the runtime reconnects for as long as it
takes, never more than ``RECONNECT_MAX_DELAY_S`` apart.
"""

from __future__ import annotations

import time
from collections import deque

from codex_runner.config import CodexSettings

RESTART_MAX_DELAY_S = 10.0
RECONNECT_MAX_DELAY_S = 5.0


class RestartPolicy:
    def __init__(self, settings: CodexSettings, *, external: bool) -> None:
        self._settings = settings
        self.external = external
        self._crashes: deque[float] = deque()

    def lost(self) -> None:
        """The connection (or an attempt to make it) failed."""
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - self._settings.restart_window_s:
            self._crashes.popleft()

    def given_up(self, last_error: str | None) -> str | None:
        """Why the runtime stops trying, or None while it goes on."""
        if self.external or len(self._crashes) <= self._settings.max_restarts:
            return None
        return (
            f"codex app-server crashed {len(self._crashes)} times within "
            f"{self._settings.restart_window_s:g}s; stopped restarting. "
            f"Last failure: {last_error}"
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0 first)."""
        if self.external:
            return min(0.1 * 2.0**attempt, RECONNECT_MAX_DELAY_S)
        return min(0.1 * 2.0 ** (len(self._crashes) - 1), RESTART_MAX_DELAY_S)
