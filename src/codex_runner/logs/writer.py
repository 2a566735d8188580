"""The one thread that writes the layered logs, fed through a bounded queue.

Whoever logs (the event loop, a Codex reader, the HTTP server) only encodes its line and
puts it on the queue without waiting; the thread appends it to its stream's hourly file.
When the queue is full (the disk stalls, or something logs in a tight loop) the line is
dropped and counted, never waited for: the event loop must not stop for a log line. The
next line written after a drop is preceded by a warning in the runner log saying how many
were lost.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson

from codex_runner.logs.hourly import HourlyFiles
from codex_runner.logs.layout import Clock, hour_name

DEFAULT_QUEUE_SIZE = 10_000
BATCH = 512  # lines taken from the queue per round of writes
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class _Line:
    directory: Path
    hour: str
    data: bytes


@dataclass(frozen=True)
class _Barrier:
    reached: threading.Event


class LogWriter:
    """Appends queued lines to hourly files on a thread of its own; see the module."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        drop_notices: Path | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.clock = clock
        self.dropped = 0  # lines lost to a full queue, since the start
        self.failing: str | None = None  # the error while appends fail, said once
        self._drop_notices = drop_notices
        self._reported_drops = 0
        self._queue: queue.Queue[_Line | _Barrier | None] = queue.Queue(queue_size)
        self._files = HourlyFiles()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, directory: Path, data: bytes, *, at: float | None = None) -> bool:
        """Queue ``data`` (one JSON line, no newline) for ``directory``'s file of the hour
        of ``at`` (default: now by the writer's clock); False if it was dropped."""
        line = _Line(directory, hour_name(self.clock() if at is None else at), data + b"\n")
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until every line queued before this call is written; False on timeout."""
        reached = threading.Event()
        try:
            self._queue.put(_Barrier(reached), timeout=timeout)
        except queue.Full:
            return False
        return reached.wait(timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued (within ``timeout``) and stop the thread."""
        if not self._thread.is_alive():
            return
        # A full queue means the thread is stuck on the disk: it is a daemon thread, let it be.
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = self._write(batch)
            if stop:
                self._files.close()
                return

    def _write(self, batch: list[_Line | _Barrier | None]) -> bool:
        grouped: dict[tuple[Path, str], list[bytes]] = defaultdict(list)
        notice = self._drop_notice()
        if notice is not None:
            grouped[notice[0]].append(notice[1])
        barriers: list[threading.Event] = []
        stop = False
        for item in batch:
            if item is None:
                stop = True
            elif isinstance(item, _Barrier):
                barriers.append(item.reached)
            else:
                grouped[(item.directory, item.hour)].append(item.data)
        for (directory, hour), lines in grouped.items():
            try:
                self._files.append(directory, hour, b"".join(lines))
            except OSError as exc:
                self._failed(directory, exc)
            else:
                self.failing = None
        for reached in barriers:
            reached.set()
        return stop

    def _drop_notice(self) -> tuple[tuple[Path, str], bytes] | None:
        dropped = self.dropped
        if self._drop_notices is None or dropped == self._reported_drops:
            return None
        lost = dropped - self._reported_drops
        self._reported_drops = dropped
        now = self.clock()
        record = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now)),
            "level": "warning",
            "logger": "codex_runner.logs",
            "message": f"{lost} log records dropped: the log queue was full",
        }
        return (self._drop_notices, hour_name(now)), orjson.dumps(record) + b"\n"

    def _failed(self, directory: Path, exc: OSError) -> None:
        # Not through logging: that would queue another line for the failing disk.
        error = f"{exc.strerror or type(exc).__name__} ({directory})"
        if self.failing != error:
            print(f"codex-runner: logs cannot be written: {error}", file=sys.stderr)
            self.failing = error
