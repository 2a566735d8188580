"""The daemon's layered logs: hourly JSONL files under ``$CODEX_RUNNER_HOME/logs``.

:func:`install` sends the ``codex_runner`` loggers to ``logs/runner/`` (with a copy per task
and chat session) through one writer thread, and opens the raw layers ``[logs]`` switches on.
:func:`remove_old_logs_now_and_then` is the daemon's retention job. Layout, redaction and
the bounded queue: :mod:`codex_runner.logs` and docs/logs.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from codex_runner.config import LogSettings
from codex_runner.logs import RAW_LAYERS, LayeredLogHandler, LogLayout, LogWriter, RawLayer
from codex_runner.logs.layout import Clock
from codex_runner.logs.redaction import REDACTED
from codex_runner.logs.retention import remove_old_logs

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 600.0  # hourly files: a pass every ten minutes keeps within the hour
_SWITCHES = {
    "codex-rpc": "raw_codex_rpc",
    "slack-events": "raw_slack_events",
    "http": "raw_http",
}


class DaemonLogs(LayeredLogHandler):
    """The handler the daemon installs; it owns the writer thread and the raw layers, and
    ``stop`` ends them all."""

    def __init__(
        self, layout: LogLayout, writer: LogWriter, settings: LogSettings, *, rpc_log: bool
    ) -> None:
        super().__init__(layout, writer, level=logging.getLevelName(settings.level.upper()))
        self.settings = settings
        on = {name for name, key in _SWITCHES.items() if getattr(settings, key)}
        if rpc_log:  # [service] rpc_log, the older switch, still works
            on.add("codex-rpc")
        self.raw: dict[str, RawLayer] = {
            name: RawLayer(name, layout, writer, settings.raw_max_bytes)
            for name in RAW_LAYERS
            if name in on
        }

    def raw_layer(self, name: str) -> RawLayer | None:
        """The raw layer ``name`` if ``[logs]`` switched it on, else None."""
        return self.raw.get(name)

    def close(self) -> None:
        """Flush, and stay usable: uvicorn's logging set-up (``dictConfig``) closes every
        handler there is, and the daemon keeps logging after that."""
        super().close()
        self.writer.flush()

    def stop(self) -> None:
        """Detach from the ``codex_runner`` logger and stop the writer thread (what is
        queued is written first, within a bound). The daemon calls this as it exits."""
        logging.getLogger("codex_runner").removeHandler(self)
        super().close()
        self.writer.close()


def install(
    logs_dir: Path,
    settings: LogSettings | None = None,
    *,
    rpc_log: bool = False,
    clock: Clock = time.time,
) -> DaemonLogs:
    """Send the ``codex_runner`` loggers to the layered logs under ``logs_dir``; returns the
    handler (``stop`` it when the daemon exits)."""
    settings = settings or LogSettings()
    layout = LogLayout(logs_dir)
    writer = LogWriter(clock=clock, queue_size=settings.queue_size, drop_notices=layout.runner)
    handler = DaemonLogs(layout, writer, settings, rpc_log=rpc_log)
    logger = logging.getLogger("codex_runner")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > handler.level:
        logger.setLevel(handler.level)
    return handler


async def remove_old_logs_now_and_then(
    logs_dir: Path, retention_s: float, *, interval_s: float = RETENTION_INTERVAL_S
) -> None:
    """The retention job: every ``interval_s``, remove log files older than ``retention_s``
    (0: keep everything). Runs until cancelled; a failed pass is logged and retried."""
    if retention_s <= 0:
        return
    while True:
        try:
            removed = await asyncio.to_thread(remove_old_logs, logs_dir, retention_s, time.time())
            if removed.files:
                log.info(
                    "removed %d log files (%d bytes) older than %.0f s",
                    len(removed.files),
                    removed.bytes,
                    retention_s,
                )
        except Exception:
            log.exception("log retention failed")
        await asyncio.sleep(interval_s)


__all__ = ["REDACTED", "DaemonLogs", "install", "remove_old_logs_now_and_then"]
