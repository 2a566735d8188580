"""Another process holding the daemon's SQLite database locked, until released."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

# Takes the write lock, says so, and keeps it until its stdin closes.
_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


class StoreLock:
    """``with StoreLock(path):`` the database is write-locked by another process inside."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> StoreLock:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(self.database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        # Blocks until the lock is held; the holder fails at once when it cannot take it.
        line = self.proc.stdout.readline()
        assert line.strip() == "locked", f"could not lock {self.database}"
        return self

    def release(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
