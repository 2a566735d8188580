"""The daemon's own files are private; Codex and git keep the user's umask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codex_runner.runner_home.secret_files import write_private

# In a child process: the umask is process-wide and must not leak into the test run.
PROBE = """
import asyncio, os, sys
from pathlib import Path
os.umask(0o022)
from codex_runner.codex.process import ChildProcess
from codex_runner.runner_home.file_modes import make_private_by_default, user_umask
assert user_umask() == -1
make_private_by_default()
root = Path(sys.argv[1])
(root / "own.txt").write_text("x")
async def child():
    proc = await ChildProcess.spawn(
        ["sh", "-c", "touch agent.txt"], env={"PATH": os.environ["PATH"]}, cwd=root,
        stdin_devnull=True,
    )
    await proc.proc.wait()
asyncio.run(child())
print(oct(user_umask()))
"""


def test_the_daemon_writes_private_files_and_its_children_keep_the_users_umask(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "0o22"
    assert (tmp_path / "own.txt").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "agent.txt").stat().st_mode & 0o777 == 0o644


def test_a_secret_written_into_a_new_home_makes_the_home_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_private(home / "api-token", "t\n")
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "api-token").stat().st_mode & 0o777 == 0o600
