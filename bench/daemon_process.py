"""Shared by the benchmarks that run ``codex-runner serve`` as a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, bounded wait, then SIGKILL; then kill what is left of its process group
    (its app-server exits on stdin EOF, but nothing of the group may linger)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
