"""Line transports for the app-server's JSON-RPC: the child's stdio today, a socket later.

A transport moves whole messages (one JSON document per line) and nothing else; framing
errors are reported as values so the reader survives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Protocol

from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.process import ChildProcess


class OversizedLine(Exception):
    """A line longer than the transport's limit; it was skipped."""


class Transport(Protocol):
    async def send(self, line: bytes) -> None:
        """Write one message (without its newline). Raises TransportClosed when gone."""

    async def receive(self) -> bytes:
        """Next message without its newline. Raises TransportClosed at EOF and
        OversizedLine for a line over the limit (the transport is still usable)."""

    async def close(self) -> None: ...

    def describe(self) -> str:
        """What happened to the peer, for error messages (exit code, stderr tail)."""


# How long a write may wait for Codex to read its stdin. A child that stops reading is
# wedged: without a bound every request (the watchdog's thread/read, an interrupt) would
# wait forever behind the full pipe.
WRITE_TIMEOUT_S = 60.0


class StdioTransport:
    def __init__(self, child: ChildProcess, *, write_timeout_s: float = WRITE_TIMEOUT_S) -> None:
        self.child = child
        self._write_timeout_s = write_timeout_s
        stdout = child.proc.stdout
        stdin = child.proc.stdin
        assert stdout is not None and stdin is not None, "spawn the child with pipes"
        self._reader = stdout
        self._writer = stdin
        self._write_lock = asyncio.Lock()

    async def send(self, line: bytes) -> None:
        async with self._write_lock:
            if self._writer.is_closing():
                raise TransportClosed(f"cannot write to Codex: {self.describe()}")
            try:
                self._writer.write(line + b"\n")
                await asyncio.wait_for(self._writer.drain(), self._write_timeout_s)
            except (BrokenPipeError, ConnectionResetError) as exc:  # EPIPE: the child died
                raise TransportClosed(f"cannot write to Codex ({exc}): {self.describe()}") from None
            except TimeoutError:
                # Kill it: its exit ends the reader, and supervision starts a fresh child.
                self.child.signal_group(signal.SIGKILL)
                raise TransportClosed(
                    f"Codex did not read its input for {self._write_timeout_s:g}s and was "
                    "killed (it will be restarted)"
                ) from None

    async def receive(self) -> bytes:
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                return exc.partial.rstrip(b"\r\n")
            raise TransportClosed(f"Codex closed the connection: {self.describe()}") from None
        except asyncio.LimitOverrunError as exc:
            await self._skip_oversized(exc.consumed)
            raise OversizedLine(f"line over {exc.consumed} bytes skipped") from None
        return line.rstrip(b"\r\n")

    async def _skip_oversized(self, consumed: int) -> None:
        # Discard up to and including the next newline, in bounded chunks.
        await self._reader.readexactly(consumed)
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError:
                return

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()

    def describe(self) -> str:
        return self.child.describe_exit()
