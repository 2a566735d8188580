"""A background job's process and files: started in its own session under a small shell
wrapper, so that its output and exit code do not depend on the daemon staying up.

Layout under ``$CODEX_RUNNER_HOME/logs/jobs/<job-id>/``::

    output.log   stdout and stderr, appended by the wrapper itself, cut past the cap
    exit_code    written by the wrapper when the command ends (absent while it runs,
                 and when the whole group was killed)

The wrapper is the process group's leader (``start_new_session``): its pid is the group id
that a cancel or a runtime cap signals. A daemon that restarts finds the job by that pid and
the two files; nothing of the job runs through the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codex_runner.runner_home.processes import pid_alive

OUTPUT_FILE = "output.log"
EXIT_CODE_FILE = "exit_code"
# How much of the end of the output is read for a report or a tail.
TAIL_READ_BYTES = 64 * 1024

# $1 job folder, $2 output cap in bytes, the rest the command. The command's exit status is
# written by the left side of the pipe; the right side keeps the first $2 bytes, notes the
# cut once and throws the rest away, so the command never meets a closed pipe and keeps
# running. exit_code appears by rename: a reader sees it whole or not at all.
WRAPPER = r"""
dir=$1; cap=$2; shift 2
rm -f "$dir/exit_code" "$dir/exit_code.part"
{ "$@" </dev/null 2>&1; echo $? >"$dir/exit_code.part"; } | {
  head -c "$cap"
  if [ "$(dd bs=1 count=1 2>/dev/null | wc -c)" -gt 0 ]; then
    printf '\n[codex-runner: output cut at %s bytes; the job keeps running]\n' "$cap"
    cat >/dev/null
  fi
} >>"$dir/output.log"
mv "$dir/exit_code.part" "$dir/exit_code"
"""


@dataclass(frozen=True)
class JobFiles:
    root: Path

    @classmethod
    def of(cls, jobs_dir: Path, job_id: str) -> JobFiles:
        return cls(jobs_dir / job_id)

    @property
    def output(self) -> Path:
        return self.root / OUTPUT_FILE

    @property
    def exit_code_file(self) -> Path:
        return self.root / EXIT_CODE_FILE

    def exit_code(self) -> int | None:
        """The command's exit status once the wrapper wrote it, else None."""
        try:
            text = self.exit_code_file.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def tail(self, max_bytes: int = TAIL_READ_BYTES) -> str:
        """The last ``max_bytes`` of the output (empty when there is none yet)."""
        try:
            with self.output.open("rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                data = f.read()
        except FileNotFoundError:
            return ""
        text = data.decode(errors="replace")
        if len(data) == max_bytes and size > max_bytes:
            text = text.partition("\n")[2]  # the first line is likely cut
        return text

    def note(self, text: str) -> None:
        """Add the runner's own line to the output (a restart, a stop)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.output.open("a") as f:
            f.write(f"\n[codex-runner: {text}]\n")


def spawn(
    files: JobFiles,
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    output_max_bytes: int,
) -> subprocess.Popen[bytes]:
    """Start the job under the wrapper, in a session of its own, stdin closed."""
    files.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return subprocess.Popen(
        ["/bin/sh", "-c", WRAPPER, "job", str(files.root), str(output_max_bytes), *command],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still lives (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # The group's other members were the wrapper's children: once it dies they belong to
    # init, and an init that does not reap (a container's) leaves zombies that killpg sees.
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class JobProcess:
    """A job's running process: the daemon's own child (reaped through ``Popen``) or one
    adopted after a restart (watched by pid)."""

    def __init__(
        self,
        pid: int,
        child: subprocess.Popen[bytes] | None = None,
        *,
        files: JobFiles | None = None,
    ) -> None:
        """``files``: an adopted job's folder, which its wrapper names in its arguments (a
        pid reused by another process after a reboot is not taken for the job)."""
        self.pid = pid
        self._child = child
        self._files = files

    def running(self) -> bool:
        if self._child is not None:
            return self._child.poll() is None
        # Adopted: not our child after a real restart (init reaps it); reaped here when it
        # is (a supervisor started again in the same process), else it stays a zombie.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        return pid_alive(self.pid) and not _zombie(self.pid) and self._runs_wrapper()

    def _runs_wrapper(self) -> bool:
        if self._files is None:
            return True
        try:
            args = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return not Path("/proc/self").exists()  # gone, or no /proc to ask
        except OSError:
            return True
        # Empty for a moment while a process just forked is still becoming the wrapper.
        return args == [b""] or str(self._files.root).encode() in args

    async def stop(self, grace_s: float, *, poll_s: float = 0.05) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after ``grace_s``; reaped."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while loop.time() < deadline:
            self.running()  # reaps our own child as soon as it ends
            if not group_alive(self.pid):
                return
            await asyncio.sleep(poll_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=1.0)
