"""Optional raw JSON-RPC logging: every line to and from Codex, redacted and size-capped.

For debugging protocol problems (``[service] rpc_log = true``). Values under keys that look
like secrets are replaced, and strings that look like API keys or bearer tokens are masked,
before anything is written. The file rotates once at ``max_bytes`` (one ``.1`` backup), so
the log never holds more than twice that.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from codex_runner.codex.safe_text import REDACTED, SECRET_TEXT
from codex_runner.codex.transport import Transport

__all__ = ["REDACTED", "RpcLog", "TracingTransport", "redact", "redact_line"]

_SECRET_KEY = re.compile(
    r"(api[_-]?key|token|secret|password|passwd|authorization|cookie|credential|private[_-]?key)",
    re.IGNORECASE,
)


def redact(value: Any) -> Any:
    """A copy of a JSON value with secret-looking keys' values and strings masked."""
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return SECRET_TEXT.sub(REDACTED, value)
    return value


def redact_line(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace")
    try:
        return json.dumps(redact(json.loads(text)), separators=(",", ":"))
    except ValueError:
        return SECRET_TEXT.sub(REDACTED, text)


class RpcLog:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, direction: str, line: bytes) -> None:
        entry = f'{{"t":{time.time():.6f},"dir":"{direction}","msg":{_as_json(line)}}}\n'
        with self._lock:
            try:
                if self.path.exists() and self.path.stat().st_size + len(entry) > self.max_bytes:
                    self.path.replace(self.path.with_name(self.path.name + ".1"))
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(entry)
            except OSError:
                pass  # a debugging aid must never break the runtime


def _as_json(line: bytes) -> str:
    redacted = redact_line(line)
    try:
        json.loads(redacted)
        return redacted
    except ValueError:
        return json.dumps(redacted)


class TracingTransport:
    """A Transport that copies each line to an RpcLog."""

    def __init__(self, inner: Transport, log: RpcLog) -> None:
        self._inner = inner
        self._log = log

    async def send(self, line: bytes) -> None:
        self._log.record("out", line)
        await self._inner.send(line)

    async def receive(self) -> bytes:
        line = await self._inner.receive()
        self._log.record("in", line)
        return line

    async def close(self) -> None:
        await self._inner.close()

    def describe(self) -> str:
        return self._inner.describe()
