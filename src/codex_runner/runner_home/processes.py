"""Whether a process the home's files name (a daemon, a child, an attaching CLI) lives."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (one owned by someone else counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
