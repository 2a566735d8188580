"""One owner per Codex child process: spawn in its own process group, always reap.

Shutdown order: close stdin (an app-server exits on EOF), wait a grace period, SIGTERM the
whole group, wait, SIGKILL the group. Each child is recorded in a pid file under the runner
home so that a runner killed with SIGKILL can reap its leftovers at the next start; on Linux
the child also gets SIGTERM from the kernel when the runner dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from codex_runner.codex.safe_text import safe_text
from codex_runner.runner_home.file_modes import user_umask
from codex_runner.runner_home.processes import pid_alive

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 40
STDERR_LINE_CHARS = 2000  # longest stderr line kept (a 50 MB line must not sit in the tail)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    def arm() -> None:  # pragma: no cover - runs in the child between fork and exec
        if sys.platform.startswith("linux"):
            with contextlib.suppress(Exception):
                ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return arm


# Children this process started and has not reaped yet: never orphans, whichever registry
# looks (a runtime started later in the daemon, for a task on the other runtime, reaps too).
_LIVE_CHILDREN: set[int] = set()


class PidRegistry:
    """Pid files of the children this runner started, for reaping after a hard crash."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def record(self, pid: int, argv: Sequence[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {"pid": pid, "owner": os.getpid(), "argv0": argv[0], "at": time.time()}
        (self.directory / f"codex-{pid}.json").write_text(json.dumps(payload))
        _LIVE_CHILDREN.add(pid)

    def forget(self, pid: int) -> None:
        _LIVE_CHILDREN.discard(pid)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"codex-{pid}.json").unlink()

    def reap_orphans(self) -> list[int]:
        """Kill process groups left by a runner that is no longer alive; returns their pids."""
        reaped: list[int] = []
        if not self.directory.is_dir():
            return reaped
        for path in self.directory.glob("codex-*.json"):
            try:
                info = json.loads(path.read_text())
                pid, owner = int(info["pid"]), int(info["owner"])
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
                continue
            if owner != os.getpid() and pid_alive(owner):
                continue  # another live runner owns it
            if owner == os.getpid() and pid in _LIVE_CHILDREN:
                continue  # this process's own, still running
            if pid_alive(pid) and _looks_like_codex(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                reaped.append(pid)
            path.unlink(missing_ok=True)
        return reaped


def _looks_like_codex(pid: int) -> bool:
    # Pids are reused; only kill what is still a codex process.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"codex" in cmdline


class ChildProcess:
    """A spawned codex child with a stderr tail and a reaping ``terminate``."""

    def __init__(self, proc: asyncio.subprocess.Process, registry: PidRegistry | None) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.registry = registry
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task: asyncio.Task[None] | None = None
        if proc.stderr is not None:
            self._stderr_task = asyncio.create_task(
                self._drain_stderr(proc.stderr), name=f"codex-stderr-{proc.pid}"
            )

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path | None = None,
        registry: PidRegistry | None = None,
        stdin_devnull: bool = False,
        stdout_devnull: bool = False,
        stdout_limit: int = 64 * 1024 * 1024,
        death_signal: int = signal.SIGTERM,
    ) -> ChildProcess:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL if stdin_devnull else asyncio.subprocess.PIPE,
            # A child that talks on a socket: nobody would read a pipe, and a full one
            # would block it.
            stdout=asyncio.subprocess.DEVNULL if stdout_devnull else asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,  # own process group: signals reach Codex's children too
            preexec_fn=_die_with_parent(death_signal),
            umask=user_umask(),  # the daemon's own umask is private; Codex works in the user's
            limit=stdout_limit,
        )
        # No await between spawn and registering ownership.
        child = cls(proc, registry)
        if registry is not None:
            registry.record(proc.pid, argv)
        return child

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_tail)

    def describe_exit(self) -> str:
        code = self.proc.returncode
        how = "still running" if code is None else f"exit code {code}"
        if code is not None and code < 0:
            how = f"killed by signal {-code}"
        tail = self.stderr_text().strip()
        return f"codex {how}" + (f"; stderr: {tail[-800:]}" if tail else "")

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            # Cleaned here, once: everything taken from stderr (failure reasons, the
            # runtime's status) then shows no colours, links or keys.
            text = safe_text(line.decode("utf-8", "replace"), STDERR_LINE_CHARS)
            if text:
                self.stderr_tail.append(text)

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def wait(self, timeout: float | None = None) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def terminate(self, grace: float = 3.0) -> int:
        """Close stdin, wait ``grace``, SIGTERM the group, wait, SIGKILL. Always reaps."""
        try:
            return await asyncio.shield(self._terminate(grace))
        finally:
            if self.registry is not None:
                self.registry.forget(self.pid)

    async def _terminate(self, grace: float) -> int:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        steps: list[tuple[int | None, float]] = [(signal.SIGTERM, grace), (signal.SIGKILL, 10.0)]
        if self.proc.stdin is not None:  # an app-server exits on EOF: give it the chance first
            steps.insert(0, (None, grace))
        for sig, wait_s in steps:
            if sig is not None:
                self.signal_group(sig)
            try:
                code = await asyncio.wait_for(self.proc.wait(), wait_s)
                break
            except TimeoutError:
                continue
        else:  # pragma: no cover - SIGKILL did not reap within 10 s
            code = self.proc.returncode if self.proc.returncode is not None else -9
        # The group may still hold grandchildren (shell commands): end them too.
        self.signal_group(signal.SIGKILL)
        if self._stderr_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._stderr_task, 2.0)
        return code
