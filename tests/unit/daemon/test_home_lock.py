"""One daemon per home: the lock refuses a second holder and is taken over once its
holder is dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from codex_runner.daemon.home_lock import HomeInUse, acquire, lock_path
from codex_runner.runner_home.daemon_info import DaemonInfo, write_info

HOLD = (
    "import sys, time; from pathlib import Path; "
    "from codex_runner.daemon.home_lock import acquire; "
    "lock = acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
)


def hold_in_child(home: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_lock_on_the_same_home_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with acquire(tmp_path), pytest.raises(HomeInUse) as refused:
        acquire(tmp_path)
    assert refused.value.pid == os.getpid()
    assert f"pid {os.getpid()}" in str(refused.value)
    assert "already uses this home" in str(refused.value)


def test_the_refusal_names_the_running_daemons_url(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    try:
        write_info(tmp_path, DaemonInfo(url="http://127.0.0.1:9", pid=child.pid, started_at="x"))
        with pytest.raises(HomeInUse) as refused:
            acquire(tmp_path)
        assert refused.value.pid == child.pid
        assert refused.value.url == "http://127.0.0.1:9"
        assert f"(pid {child.pid}, http://127.0.0.1:9)" in str(refused.value)
    finally:
        child.kill()
        child.wait(timeout=10)


def test_the_lock_of_a_killed_daemon_is_taken_over(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    with acquire(tmp_path):
        assert lock_path(tmp_path).read_text().strip() == str(os.getpid())


def test_a_released_lock_lets_the_next_daemon_in(tmp_path: Path) -> None:
    lock = acquire(tmp_path)
    lock.release()
    lock.release()  # twice is harmless
    with acquire(tmp_path):
        pass


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    with acquire(tmp_path):
        assert lock_path(tmp_path).stat().st_mode & 0o077 == 0
