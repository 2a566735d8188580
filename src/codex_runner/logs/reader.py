"""Reading the layered logs back: one stream (the runner's, a task's or a chat session's),
filtered by time and level, in bounded memory; and a tail that follows the stream across
the hour boundary.

A task's stream also holds its events (written by the task log) and, for a task that ran
before task logs were hourly, the old ``logs/tasks/<task-id>.jsonl``: both are read as
records of level ``info`` whose message is the event's number and type. Old files are read
where they are, not moved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from codex_runner.logs.layout import HOURLY_FILE, LogLayout, hour_start
from codex_runner.logs.records import LEVELS, level_rank

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000
MAX_LINE_BYTES = 4 * 1024 * 1024  # a longer line is skipped, not held in memory


@dataclass(frozen=True)
class LogQuery:
    """Which records: one stream (``task`` or ``session``, else the runner's), those at or
    after ``since`` (epoch seconds), at ``level`` or above, the last ``limit`` of them."""

    task: str | None = None
    session: str | None = None
    since: float | None = None
    level: str | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if self.task is not None and self.session is not None:
            raise ValueError("pick one stream: a task or a chat session, not both")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
        if self.level is not None:
            level_rank(self.level)  # says which levels there are

    def directory(self, layout: LogLayout) -> Path:
        if self.task is not None:
            return layout.task(self.task)
        if self.session is not None:
            return layout.session(self.session)
        return layout.runner

    def matches(self, record: dict[str, Any]) -> bool:
        if self.level is not None and level_rank(record["level"]) < level_rank(self.level):
            return False
        if self.since is not None:
            at = _timestamp(record.get("at"))
            if at is not None and at < self.since:
                return False
        return True


def normalized(record: Any) -> dict[str, Any] | None:
    """A record as readers see it: a task event gets a level and a message; anything that
    is not a JSON object is skipped."""
    if not isinstance(record, dict):
        return None
    if "level" not in record and "seq" in record and "type" in record:
        return {**record, "level": "info", "message": f"#{record['seq']} {record['type']}"}
    level = record.get("level")
    known = level.lower() if isinstance(level, str) and level.lower() in LEVELS else "info"
    return {**record, "level": known}


def hourly_files(directory: Path) -> list[Path]:
    """``directory``'s hourly files, oldest first."""
    try:
        names = [p.name for p in directory.iterdir() if HOURLY_FILE.match(p.name)]
    except OSError:
        return []
    return [directory / name for name in sorted(names)]


def stream_files(layout: LogLayout, query: LogQuery) -> list[Path]:
    """The files of the query's stream that may hold records after ``since``, oldest first."""
    files = hourly_files(query.directory(layout))
    if query.since is not None:
        since = query.since
        files = [f for f in files if (hour_start(f.name) or 0.0) + 3600 > since]
    if query.task is not None:
        legacy = layout.legacy_task_file(query.task)
        if legacy.is_file():
            files.insert(0, legacy)
    return files


def read(layout: LogLayout, query: LogQuery) -> list[dict[str, Any]]:
    """The last ``limit`` records of the stream that match the query, oldest first."""
    kept: deque[dict[str, Any]] = deque(maxlen=query.limit)
    for path in stream_files(layout, query):
        kept.extend(r for r in _records(path) if query.matches(r))
    return list(kept)


class Tail:
    """New records of a stream as they are written, from where the stream ends now.

    ``poll`` reads what was appended since the last call; when the current hour's file is
    done and a later one exists, it finishes the old file and moves on, so a follower
    crosses the hour boundary without losing the lines written around it.
    """

    def __init__(self, layout: LogLayout, query: LogQuery, *, from_start: bool = False) -> None:
        """``from_start``: the first poll returns what :func:`read` would (the last
        ``limit`` matching records), and later polls what follows, with no gap between."""
        self.query = query
        self.directory = query.directory(layout)
        self._path: Path | None = None
        self._offset = 0
        self._before: list[Path] = []  # read once, by the first poll
        self._limit = query.limit if from_start else MAX_LIMIT
        if from_start:
            self._before = [f for f in stream_files(layout, query) if f.parent != self.directory]
            hourly = [f for f in stream_files(layout, query) if f.parent == self.directory]
            if hourly:  # start just before the first file that may hold matching records
                self._path, self._offset = hourly[0], 0
        else:
            files = hourly_files(self.directory)
            self._path = files[-1] if files else None
            self._offset = _size(self._path) if self._path is not None else 0

    @classmethod
    def resume(cls, layout: LogLayout, query: LogQuery, cursor: str) -> Tail:
        """The tail a client left at ``cursor`` (from :attr:`cursor`); ValueError if it is
        not one. A cursor whose file is gone (retention) goes on with the next file."""
        name, _, offset = cursor.rpartition(":")
        if not HOURLY_FILE.match(name) or not offset.isdigit():
            raise ValueError(
                f"cursor {cursor!r} is not one this API gave: pass the cursor of the last "
                "answer, or none to start from the end"
            )
        tail = cls(layout, query)
        tail._path, tail._offset, tail._limit = tail.directory / name, int(offset), query.limit
        return tail

    @property
    def cursor(self) -> str | None:
        """Where the tail stands, for :meth:`resume`; None while the stream has no file."""
        return f"{self._path.name}:{self._offset}" if self._path is not None else None

    def poll(self) -> list[dict[str, Any]]:
        """Records appended since the last poll that match the query: on the first poll
        of a tail ``from_start`` the last ``limit``, later at most :data:`MAX_LIMIT`."""
        found: deque[dict[str, Any]] = deque(maxlen=self._limit)
        self._limit = MAX_LIMIT
        for path in self._before:
            found.extend(r for r in _records(path) if self.query.matches(r))
        self._before = []
        while True:
            if self._path is not None:
                found.extend(r for r in self._read_new() if self.query.matches(r))
            files = hourly_files(self.directory)
            later = [f for f in files if self._path is None or f > self._path]
            if not later:
                return list(found)
            if self._path is not None:  # lines may have landed after the read above
                found.extend(r for r in self._read_new() if self.query.matches(r))
            self._path, self._offset = later[0], 0

    def _read_new(self) -> Iterator[dict[str, Any]]:
        assert self._path is not None
        try:
            with self._path.open("rb") as source:
                source.seek(self._offset)
                for line in source:
                    if not line.endswith(b"\n"):
                        break  # half written: read it whole next time
                    self._offset += len(line)
                    record = _parse(line)
                    if record is not None:
                        yield record
        except OSError:
            return


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as source:
            for line in source:
                record = _parse(line)
                if record is not None:
                    yield record
    except OSError:
        return


def _parse(line: bytes) -> dict[str, Any] | None:
    if len(line) > MAX_LINE_BYTES or not line.strip():
        return None
    try:
        return normalized(orjson.loads(line))
    except orjson.JSONDecodeError:
        return None


def _timestamp(at: Any) -> float | None:
    if not isinstance(at, str):
        return None
    try:
        return datetime.fromisoformat(at).timestamp()
    except ValueError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
