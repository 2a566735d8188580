"""Installing a Codex release: ``pip install --target`` into a private folder, and the
background jobs the daemon runs installs as (docs/releases.md).

pip is the running interpreter's (``sys.executable -m pip``) and writes only under
``releases/``: the install goes to a hidden folder beside the release's and is renamed into
place once pip succeeded and the binary is found in it, so a failed, stopped or timed-out
install leaves nothing half-made.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codex_runner.codex.binary import codex_version, release_codex_binary
from codex_runner.codex.errors import CodexBinaryNotFound
from codex_runner.service.codex_releases import (
    CODEX_PACKAGE,
    Release,
    ReleaseError,
    ReleasesHome,
    check_version,
)

Progress = Callable[[str], None]
MAX_JOB_LINES = 200
MAX_JOBS_KEPT = 20
STOPPED = "the install was stopped (the daemon stopped)"
MAX_RUNNING_JOBS = 2  # each downloads and unpacks some hundred MB
MAX_LINE_CHARS = 500
REAP_GRACE_S = 5.0


class InstallFailed(Exception):
    """pip failed, timed out, or installed no usable codex binary."""


async def install_release(
    releases: ReleasesHome,
    version: str,
    *,
    pip_args: Sequence[str] = (),
    timeout_s: float = 600.0,
    progress: Progress = lambda _line: None,
) -> Release:
    """Install Codex ``version`` into ``releases/codex-VERSION``; ReleaseError when it is
    already there, InstallFailed (with pip's last lines) when the install did not work."""
    version = check_version(version)
    final = releases.folder(version)
    if final.exists():
        raise ReleaseError(f"Codex {version} is already installed at {final}")
    releases.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = Path(tempfile.mkdtemp(dir=releases.root, prefix=f".codex-{version}.partial-"))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--target",
            str(partial),
            *pip_args,
            f"{CODEX_PACKAGE}=={version}",
        ]
        progress(f"pip install {CODEX_PACKAGE}=={version}")
        await _run_pip(command, timeout_s, progress)
        try:
            binary = release_codex_binary(partial)
            found = await asyncio.to_thread(codex_version, binary)
        except (CodexBinaryNotFound, OSError, ValueError) as exc:
            raise InstallFailed(f"the installed package has no working codex: {exc}") from None
        except Exception as exc:  # codex --version failed or hung
            raise InstallFailed(f"the installed codex does not run: {exc}") from None
        os.replace(partial, final)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, partial, True)
        raise
    progress(f"installed Codex {found} at {final}")
    return releases.release(version)


async def _run_pip(command: list[str], timeout_s: float, progress: Progress) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_TARGET")}
    child = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: a timeout stops pip's children too
    )
    tail: deque[str] = deque(maxlen=5)
    assert child.stdout is not None
    try:
        async with asyncio.timeout(timeout_s):
            async for raw in child.stdout:
                line = raw.decode(errors="replace").rstrip()[:MAX_LINE_CHARS]
                if line:
                    tail.append(line)
                    progress(line)
            code = await child.wait()
    except TimeoutError:
        raise InstallFailed(f"pip did not finish within {timeout_s:g}s") from None
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), REAP_GRACE_S)
    if code != 0:
        raise InstallFailed(f"pip exited with status {code}: " + " | ".join(tail))


def remove_stale_partials(releases: ReleasesHome, older_than_s: float) -> list[Path]:
    """Remove unfinished installs a crash left (older than any install may run)."""
    removed: list[Path] = []
    if not releases.root.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for folder in releases.root.glob(".codex-*.partial-*"):
        with contextlib.suppress(OSError):
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed.append(folder)
    return removed


@dataclass
class InstallJob:
    """One install running in the background: its progress lines and how it ended."""

    id: str
    version: str
    started_at: float
    state: str = "running"  # running | succeeded | failed
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_JOB_LINES))
    error: str | None = None
    finished_at: float | None = None


class InstallJobs:
    """The daemon's install jobs: one at a time per version, the last few kept to show."""

    def __init__(
        self,
        releases: ReleasesHome,
        *,
        pip_args: Sequence[str] = (),
        timeout_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._releases = releases
        self._pip_args = tuple(pip_args)
        self._timeout_s = timeout_s
        self._clock = clock
        self._jobs: dict[str, InstallJob] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ids = itertools.count(1)

    def start(self, version: str) -> InstallJob:
        """Start installing ``version``; ReleaseError when it is installed or installing."""
        version = check_version(version)
        for job in self._jobs.values():
            if job.version == version and job.state == "running":
                raise ReleaseError(f"Codex {version} is being installed already (job {job.id})")
        if self._releases.folder(version).exists():
            raise ReleaseError(f"Codex {version} is already installed")
        running = [j.version for j in self._jobs.values() if j.state == "running"]
        if len(running) >= MAX_RUNNING_JOBS:
            raise ReleaseError(
                f"{len(running)} installs run already ({', '.join(running)}); start this one "
                "once one of them ended"
            )
        job = InstallJob(id=f"install-{next(self._ids)}", version=version, started_at=self._clock())
        self._jobs[job.id] = job
        self._forget_old()
        self._tasks[job.id] = asyncio.create_task(self._run(job), name=f"codex-install-{version}")
        return job

    def get(self, job_id: str) -> InstallJob | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[InstallJob]:
        """Newest first."""
        return sorted(self._jobs.values(), key=lambda j: j.started_at, reverse=True)

    async def wait(self, job_id: str, timeout_s: float) -> InstallJob | None:
        """The job once it ended (or as it is after ``timeout_s``)."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return self._jobs.get(job_id)

    async def close(self) -> None:
        """Stop running installs (their partial folders are removed) and reap them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for job in self._jobs.values():
            if job.state == "running":  # cancelled before it began
                job.state, job.error = "failed", STOPPED
                job.finished_at = self._clock()

    async def _run(self, job: InstallJob) -> None:
        try:
            await install_release(
                self._releases,
                job.version,
                pip_args=self._pip_args,
                timeout_s=self._timeout_s,
                progress=job.lines.append,
            )
            job.state = "succeeded"
        except asyncio.CancelledError:
            job.state, job.error = "failed", STOPPED
            raise
        except Exception as exc:
            job.state, job.error = "failed", str(exc)
            job.lines.append(f"failed: {exc}")
        finally:
            job.finished_at = self._clock()
            self._tasks.pop(job.id, None)

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs() if j.state != "running"]
        for job in finished[MAX_JOBS_KEPT:]:
            del self._jobs[job.id]
