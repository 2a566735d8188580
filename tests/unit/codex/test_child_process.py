"""Process ownership against the real OS: groups, escalation, orphan reaping."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from codex_runner.codex.errors import TransportClosed
from codex_runner.codex.process import ChildProcess, PidRegistry
from codex_runner.codex.transport import StdioTransport


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it counts as gone.
    return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]


def _wait_until_exec(pid: int, marker: bytes, timeout: float = 10.0) -> None:
    """Between fork and exec the child still shows the parent's command line."""
    deadline = time.monotonic() + timeout
    while marker not in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "child did not exec in time"
        time.sleep(0.005)


async def test_terminate_escalates_to_sigkill_and_reaps_the_group(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 300 & wait"
    child = await ChildProcess.spawn(["bash", "-c", script], env=dict(os.environ))
    code = await child.terminate(grace=0.2)
    assert code == -signal.SIGKILL
    assert child.returncode is not None


async def test_stderr_tail_is_kept_for_error_messages() -> None:
    child = await ChildProcess.spawn(["bash", "-c", "echo boom >&2; exit 3"], env=dict(os.environ))
    await child.wait(10)
    await child.terminate(grace=0.1)
    assert "exit code 3" in child.describe_exit() and "boom" in child.describe_exit()


def test_orphans_of_a_dead_runner_are_reaped_at_start(tmp_path: Path) -> None:
    fake_codex = tmp_path / "codex-fake"
    shutil.copy("/bin/sleep", fake_codex)
    orphan = subprocess.Popen([str(fake_codex), "300"], start_new_session=True)
    _wait_until_exec(orphan.pid, b"codex-fake")
    registry = PidRegistry(tmp_path / "run")
    registry.record(orphan.pid, [str(fake_codex)])
    # Pretend the recording runner is gone: rewrite the owner to a pid that cannot exist.
    record = tmp_path / "run" / f"codex-{orphan.pid}.json"
    record.write_text(record.read_text().replace(f'"owner": {os.getpid()}', '"owner": 999999999'))
    assert registry.reap_orphans() == [orphan.pid]
    assert orphan.wait(10) == -signal.SIGKILL
    assert not record.exists()


async def test_a_live_runners_children_are_left_alone(tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / "run")
    child = await ChildProcess.spawn(["sleep", "300"], env=dict(os.environ), registry=registry)
    other = PidRegistry(tmp_path / "run")
    # Same owner (this process) is alive: a second registry must not kill its children.
    record = tmp_path / "run" / f"codex-{child.pid}.json"
    record.write_text(
        record.read_text().replace(f'"owner": {os.getpid()}', f'"owner": {os.getppid()}')
    )
    assert other.reap_orphans() == []
    assert _alive(child.pid)
    await child.terminate(grace=0.1)
    assert not record.exists()


async def test_a_child_that_stops_reading_its_input_is_killed_not_waited_on_forever() -> None:
    child = await ChildProcess.spawn(["sleep", "300"], env=dict(os.environ))
    transport = StdioTransport(child, write_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(TransportClosed, match="did not read its input"):
        await transport.send(b"x" * (4 * 1024 * 1024))  # far beyond a pipe's buffer
    assert time.monotonic() - started < 5
    assert await child.wait(5) == -signal.SIGKILL
