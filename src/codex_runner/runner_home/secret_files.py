"""Files that hold secrets: created 0600, refused when others can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafeSecretFile(Exception):
    """A secret file that other users can read or write; the message names the fix."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode
        super().__init__(
            f"{path} is readable or writable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )


def check_private(path: Path) -> None:
    """Raise UnsafeSecretFile when group or others have any access to ``path``."""
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise UnsafeSecretFile(path, mode)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (no readable window);
    a missing folder (the home, on a first ``config`` command) is made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
