"""The compressed form of a task's archived events, and what archiving reports.

An archive is gzip'd JSON Lines, one event a line in seq order:
``{"seq": 1, "type": "task.created", "at": <UTC microseconds>, "data": {...}}``. gzip so that
an archive copied out of the store reads with ``zcat``; ``at`` in microseconds (as the
tables keep it) so that an event comes back exactly as it was written.

Decoding a large archive costs a lot beside one page of it, and readers page through it
(``read_events`` 1000 at a time), so :class:`DecodedArchives` keeps the last few decoded.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.store.tables import from_micros, to_micros

COMPRESS_LEVEL = 6
CACHED_ARCHIVES = 4
CACHED_CHARS = 64 * 1024 * 1024  # of decompressed text, over every archive kept


@dataclass(frozen=True)
class ArchivedEvents:
    """One archiving of a task: its events 1 to ``through_seq`` are now in the archive."""

    task_id: str
    through_seq: int
    moved: int  # event rows this archiving moved out of the event log
    size: int  # the archive's compressed bytes


@dataclass(frozen=True)
class ArchiveTotals:
    """Every archive in the store: how many tasks, events and compressed bytes."""

    tasks: int = 0
    events: int = 0
    bytes: int = 0


def encode(events: Sequence[TaskEvent]) -> bytes:
    """The archive of ``events`` (already in seq order)."""
    lines = (
        json.dumps(
            {"seq": e.seq, "type": e.type, "at": to_micros(e.at), "data": e.data},
            separators=(",", ":"),
        )
        for e in events
    )
    text = "".join(line + "\n" for line in lines)
    # mtime 0: the same events make the same bytes.
    return gzip.compress(text.encode(), compresslevel=COMPRESS_LEVEL, mtime=0)


def decode(task_id: str, archive: bytes) -> list[TaskEvent]:
    """The events of ``task_id``'s archive, in seq order."""
    return [event_of(task_id, line) for line in lines_of(archive)]


def lines_of(archive: bytes) -> list[str]:
    """The archive's lines, one event each (``event_of`` reads one)."""
    return gzip.decompress(archive).decode().splitlines()


def event_of(task_id: str, line: str) -> TaskEvent:
    raw = json.loads(line)
    return TaskEvent(task_id, raw["seq"], raw["type"], from_micros(raw["at"]), raw["data"])


class DecodedArchives:
    """The lines of the last :data:`CACHED_ARCHIVES` archives read, by task and version
    (``through_seq``: archiving again makes a longer one), so that reading page after page
    decompresses an archive once. Lines, not events: each read parses its own page and
    hands out fresh values. An archive larger than the whole bound is read but not kept.
    Used from the store's reader threads."""

    def __init__(self, size: int = CACHED_ARCHIVES, chars: int = CACHED_CHARS) -> None:
        self._size = size
        self._max_chars = chars
        self._chars = 0
        self._lock = threading.Lock()
        self._lines: OrderedDict[tuple[str, int], tuple[list[str], int]] = OrderedDict()

    def page(
        self,
        task_id: str,
        through_seq: int,
        load: Callable[[], bytes],
        *,
        after_seq: int,
        limit: int,
    ) -> list[TaskEvent]:
        """The archive's events with ``seq > after_seq``, at most ``limit``; ``load`` fetches
        its bytes when they are not cached."""
        lines = self._lines_of(task_id, through_seq, load)
        # Archived events are 1..through_seq without gaps: line i holds seq i + 1.
        start = max(after_seq, 0)
        return [event_of(task_id, line) for line in lines[start : start + max(limit, 0)]]

    def _lines_of(self, task_id: str, through_seq: int, load: Callable[[], bytes]) -> list[str]:
        key = (task_id, through_seq)
        with self._lock:
            found = self._lines.get(key)
            if found is not None:
                self._lines.move_to_end(key)
                return found[0]
        lines = lines_of(load())
        chars = sum(len(line) for line in lines)
        if chars > self._max_chars:
            return lines
        with self._lock:
            if key not in self._lines:
                self._lines[key] = (lines, chars)
                self._chars += chars
            while len(self._lines) > self._size or self._chars > self._max_chars:
                _, (_, dropped) = self._lines.popitem(last=False)
                self._chars -= dropped
        return lines
