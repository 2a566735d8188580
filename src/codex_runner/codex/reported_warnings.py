"""Codex's warnings, reported once per daemon process.

Codex repeats the same warnings every time it starts (an app-server after each restart,
every ``codex exec`` process): "Codex could not find bubblewrap on PATH ..." would otherwise
fill the log and the runtime's status with copies. The first report of a warning is logged
at WARNING level; repeats go to DEBUG only.
"""

from __future__ import annotations

import logging
import threading

from codex_runner.codex.safe_text import safe_text

log = logging.getLogger(__name__)

# Distinct warnings remembered; past this, the set starts afresh (a warning that embeds
# something varying, like a pid, must not grow it forever).
MAX_REMEMBERED = 1000


class ReportedWarnings:
    """The warnings already reported (thread-safe: runtimes may live on other loops)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def report(self, message: str) -> str:
        """Log ``message`` unless it was reported before; returns it made safe to show."""
        text = safe_text(message)
        with self._lock:
            first = text not in self._seen
            if first:
                if len(self._seen) >= MAX_REMEMBERED:
                    self._seen.clear()
                self._seen.add(text)
        if first:
            log.warning("codex warning: %s", text)
        else:
            log.debug("codex warning (reported before): %s", text)
        return text

    def reported(self, message: str) -> bool:
        with self._lock:
            return safe_text(message) in self._seen


# The daemon's one registry: both runtimes, and every restart of them, share it.
PROCESS_WARNINGS = ReportedWarnings()
