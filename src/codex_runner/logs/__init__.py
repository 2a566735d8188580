"""Layered logs: hourly JSONL files under ``$CODEX_RUNNER_HOME/logs`` (docs/logs.md).

The daemon's records go to ``runner/``, with a copy per task and per chat session; raw
layers (Codex RPC, Slack events, HTTP requests) are off unless ``[logs]`` switches them on.
Everything is redacted before it is queued, and one thread writes it all
(:class:`LogWriter`), so nobody waits for the disk.
"""

from codex_runner.logs.handler import LayeredLogHandler
from codex_runner.logs.layout import RAW_LAYERS, LogLayout
from codex_runner.logs.raw import RawLayer
from codex_runner.logs.reader import LogQuery, Tail, read
from codex_runner.logs.records import LEVELS, log_context
from codex_runner.logs.retention import remove_old_logs
from codex_runner.logs.writer import LogWriter

__all__ = [
    "LEVELS",
    "RAW_LAYERS",
    "LayeredLogHandler",
    "LogLayout",
    "LogQuery",
    "LogWriter",
    "RawLayer",
    "Tail",
    "log_context",
    "read",
    "remove_old_logs",
]
