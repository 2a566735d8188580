"""Raw layers: what came over a wire, for debugging, off unless ``[logs]`` switches them on.

``logs/raw/codex-rpc/`` (every JSON-RPC line to and from Codex), ``logs/raw/slack-events/``
(the Slack bridge's incoming events) and ``logs/raw/http/`` (one line per API request:
method, path, status, duration; never a body, never a header). Each record is redacted, then
cut past ``[logs] raw_max_bytes``, then queued on the shared writer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codex_runner.logs.layout import LogLayout
from codex_runner.logs.redaction import bounded_json, redact
from codex_runner.logs.writer import LogWriter


class RawLayer:
    """One raw layer's stream; ``record`` never blocks and never raises."""

    def __init__(self, name: str, layout: LogLayout, writer: LogWriter, max_bytes: int) -> None:
        self.name = name
        self.directory = layout.raw(name)
        self.writer = writer
        self.max_bytes = max_bytes

    def record(self, entry: dict[str, Any]) -> None:
        at = self.writer.clock()
        try:
            line = bounded_json(
                {"at": datetime.fromtimestamp(at, UTC).isoformat(), **redact(entry)},
                self.max_bytes,
            )
        except (TypeError, ValueError):
            return  # a debugging aid must never break what it watches
        self.writer.put(self.directory, line, at=at)
