"""Optional raw JSON-RPC logging: every line to and from Codex, in the ``codex-rpc`` raw layer.

For debugging protocol problems (``[logs] raw_codex_rpc = true``, or the older
``[service] rpc_log = true``). Records go to ``logs/raw/codex-rpc/YYYY-MM-DD-HH.jsonl``
through the layered logs (:mod:`codex_runner.logs`): values under keys that look like
secrets are replaced and strings that look like API keys or bearer tokens masked before
anything is queued, and a record is cut past ``[logs] raw_max_bytes``.
"""

from __future__ import annotations

import json
from typing import Any

from codex_runner.codex.transport import Transport
from codex_runner.logs.raw import RawLayer
from codex_runner.logs.redaction import REDACTED, mask_secrets, redact

__all__ = ["REDACTED", "RpcLog", "TracingTransport", "redact", "redact_line"]


def redact_line(line: bytes) -> str:
    """One JSON-RPC line, redacted, as text (JSON when it was JSON)."""
    text = line.decode("utf-8", errors="replace")
    try:
        return json.dumps(redact(json.loads(text)), separators=(",", ":"))
    except ValueError:
        return mask_secrets(text)


class RpcLog:
    """Records each line with its direction (``out`` to Codex, ``in`` from it)."""

    def __init__(self, layer: RawLayer) -> None:
        self.layer = layer

    def record(self, direction: str, line: bytes) -> None:
        self.layer.record({"dir": direction, "msg": _message(line)})


def _message(line: bytes) -> Any:
    text = line.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text  # the raw layer masks secrets in text too


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
