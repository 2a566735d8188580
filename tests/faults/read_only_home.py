"""Making a running daemon's home read-only, even for root (which ignores file modes).

The daemon runs in its own mount namespace (``unshare -m``); a read-only bind mount of
the home over itself (``nsenter`` into that namespace) makes every new open for writing
fail with EROFS, for the daemon and its Codex and for no one else. Files the daemon already
holds open for writing (its SQLite store) stay writable: the kernel refuses to turn a mount
read-only while it has writers ("mount point is busy"), so this is the closest a test can
come to a file system that turns read-only under a running process.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WRAPPER = ["unshare", "-m", "--propagation", "private"]


def _in_namespace(pid: int, *command: str) -> None:
    done = subprocess.run(
        ["nsenter", "-t", str(pid), "-m", *command], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"{' '.join(command)} failed: {done.stderr}"


def make_read_only(pid: int, home: Path) -> None:
    _in_namespace(pid, "mount", "--bind", "-o", "ro", str(home), str(home))


def make_writable(pid: int, home: Path) -> None:
    # Lazily: Codex may hold a file of its home open for reading through the read-only mount.
    _in_namespace(pid, "umount", "-l", str(home))


def unavailable_reason(scratch: Path) -> str | None:
    """Why this machine cannot do it (no tools, no privilege), or None when it can."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare/nsenter (util-linux) are not installed"
    scratch.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        [
            *WRAPPER,
            "sh",
            "-c",
            'mount --bind -o ro "$0" "$0" && ! touch "$0/probe" 2>/dev/null',
            str(scratch),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"cannot make a read-only bind mount here (needs CAP_SYS_ADMIN): {probe.stderr}"
    return None
