"""Appending to hourly files: one directory per stream, one file per UTC hour.

A stream's file changes when the hour named by the writer's clock changes, so rotation
needs no timer: the first line of a new hour opens a new file. Files are opened unbuffered
in append mode and each batch goes out in one ``write``, so a second writer of the same
stream (the task log's events beside the daemon's records about that task) cannot tear a
line in two, and ``tail -f`` sees a batch as soon as it is written.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_OPEN = 64


class HourlyFiles:
    """Keeps the busiest streams' current files open, least recently written closed first."""

    def __init__(self, *, max_open: int = DEFAULT_MAX_OPEN, make_parents: bool = True) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.max_open = max_open
        # Without it a stream's directory is made only inside an existing parent, so a
        # deleted home fails the append instead of being quietly re-created.
        self.make_parents = make_parents
        self._open: OrderedDict[Path, tuple[str, BinaryIO]] = OrderedDict()

    def append(self, directory: Path, hour: str, data: bytes) -> None:
        """Append ``data`` (whole lines) to ``directory/hour``; OSError when that fails
        (the file is closed then, and the next append opens it again)."""
        try:
            out = self._file(directory, hour)
            out.write(data)
        except OSError:
            self.forget(directory)
            raise

    def forget(self, directory: Path) -> None:
        entry = self._open.pop(directory, None)
        if entry is not None:
            with contextlib.suppress(OSError):
                entry[1].close()

    def close(self) -> None:
        """Close every open file; a later append reopens."""
        while self._open:
            _, (_, out) = self._open.popitem(last=False)
            with contextlib.suppress(OSError):
                out.close()

    def _file(self, directory: Path, hour: str) -> BinaryIO:
        entry = self._open.get(directory)
        if entry is not None:
            if entry[0] == hour:
                self._open.move_to_end(directory)
                return entry[1]
            self.forget(directory)  # the hour turned: this stream's next file
        while len(self._open) >= self.max_open:
            _, (_, oldest) = self._open.popitem(last=False)
            with contextlib.suppress(OSError):
                oldest.close()
        directory.mkdir(parents=self.make_parents, exist_ok=True)
        out = (directory / hour).open("ab", buffering=0)
        self._open[directory] = (hour, out)
        return out
