"""Running git: one command at a time, in its own process group, with a timeout.

Every git call is always reaped, never prompts (no terminal, no askpass, no editor), sees no
git variables leaked from a parent git process, and keeps a bounded amount of its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codex_runner.runner_home.file_modes import user_umask
from codex_runner.workspace.protocol import GitFailed

GIT_TIMEOUT_S = 300.0  # a checkout of a very large repository, or a slow LFS filter
_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_MAX_STDERR_BYTES = 64 * 1024

# Variables a parent git process (say, a hook that started the runner) would leak into ours:
# they would point our commands at another repository, index or identity.
_LEAKED_GIT_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_CONFIG_PARAMETERS",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)
_QUIET_GIT = {
    "GIT_TERMINAL_PROMPT": "0",  # never ask for credentials on a terminal
    "GIT_ASKPASS": "",
    "SSH_ASKPASS_REQUIRE": "never",
    "GCM_INTERACTIVE": "never",
    "GIT_EDITOR": "true",  # never open an editor (commits always pass -m)
    "GIT_OPTIONAL_LOCKS": "0",  # read-only commands do not take the index lock
    "LC_ALL": "C",  # stable messages
}


def git_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git call runs with."""
    env = dict(os.environ if base is None else base)
    for name in _LEAKED_GIT_VARIABLES:
        env.pop(name, None)
    env.update(_QUIET_GIT)
    return env


@dataclass(frozen=True)
class GitResult:
    """What one git command answered; ``truncated`` when output beyond the cap was dropped."""

    returncode: int
    stdout: bytes
    stderr: str
    truncated: bool

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


class GitRunner:
    """Runs the ``git`` executable ``git`` with :func:`git_environment` and a timeout."""

    def __init__(self, git: str = "git", *, timeout_s: float = GIT_TIMEOUT_S) -> None:
        self.git = git
        self.timeout_s = timeout_s
        self._env = git_environment()

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        check: bool = True,
        env: dict[str, str] | None = None,
        max_output: int = _MAX_OUTPUT_BYTES,
        cut_ok: bool = False,
    ) -> GitResult:
        """Run ``git -C cwd args``: own process group, a timeout, always reaped.

        Output beyond ``max_output`` is dropped; unless ``cut_ok`` that is an error.
        """
        argv = [self.git, "-C", str(cwd), *args]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**self._env, **env} if env else self._env,
                start_new_session=True,  # a kill reaches hooks and filters too
                umask=user_umask(),  # a checkout has the user's modes, not the daemon's
            )
        except FileNotFoundError as exc:
            raise GitFailed(args, 127, f"{self.git} not found: install git") from exc
        stderr = b""
        try:
            async with asyncio.timeout(self.timeout_s):
                (stdout, truncated), (stderr, _) = await asyncio.gather(
                    _read_capped(proc.stdout, max_output),
                    _read_capped(proc.stderr, _MAX_STDERR_BYTES),
                )
                returncode = await proc.wait()
        except TimeoutError:
            raise GitFailed(args, None, f"no answer within {self.timeout_s:g}s") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        result = GitResult(returncode, stdout, stderr.decode("utf-8", "replace"), truncated)
        if check and (returncode != 0 or (truncated and not cut_ok)):
            raise failed(result, args)
        return result


def failed(result: GitResult, args: Sequence[str]) -> GitFailed:
    return GitFailed(args, result.returncode, result.stderr)


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read to EOF keeping the first ``cap`` bytes (the rest is drained so git never blocks)."""
    if stream is None:
        return b"", False
    chunks: list[bytes] = []
    kept = 0
    truncated = False
    while chunk := await stream.read(256 * 1024):
        room = cap - kept
        if room > 0:
            chunks.append(chunk[:room])
            kept += min(room, len(chunk))
        truncated = truncated or len(chunk) > room
    return b"".join(chunks), truncated
