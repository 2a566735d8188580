"""``codex-runner logs``: reads the home's layered logs, filtered, and follows them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from codex_runner.cli import main
from codex_runner.logs.layout import LogLayout, hour_name

FOLLOW_TIMEOUT_S = 30.0


def write(directory: Path, name: str, *records: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("ab") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")


def rec(message: str, level: str = "info", ago_s: float = 0.0, **more: object) -> dict[str, object]:
    at = datetime.fromtimestamp(time.time() - ago_s, UTC).isoformat()
    return {"at": at, "level": level, "logger": "codex_runner.x", "message": message, **more}


def logs(home: Path, *args: str) -> Result:
    env = {"CODEX_RUNNER_HOME": str(home), "COLUMNS": "200"}
    return CliRunner().invoke(main.build_app("logs"), ["logs", *args], env=env)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    runner = tmp_path / "logs" / "runner"
    write(runner, "2026-03-01-09.jsonl", rec("two days ago", "error", ago_s=2 * 86400))
    write(
        runner,
        hour_name(time.time()),
        rec("started"),
        rec("slow disk", "warning", task_id="t-1"),
        rec("noise", "debug"),
    )
    write(tmp_path / "logs" / "tasks" / "t-1", hour_name(time.time()), rec("about t-1"))
    write(tmp_path / "logs" / "tasks", "t-1.jsonl", {"task_id": "t-1", "seq": 1, "type": "x"})
    write(LogLayout(tmp_path / "logs").session("C1-17.5"), hour_name(time.time()), rec("chat"))
    return tmp_path


def messages(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["message"] for line in result.stdout.splitlines()]


def test_the_runner_log_is_shown_oldest_first_with_level_and_task(home: Path) -> None:
    result = logs(home)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert "ERROR" in lines[0] and "two days ago" in lines[0]
    assert "WARNING" in lines[2] and "slow disk" in lines[2] and "[task_id=t-1]" in lines[2]


def test_level_since_and_lines_filter(home: Path) -> None:
    assert messages(logs(home, "--json", "--level", "warning")) == ["two days ago", "slow disk"]
    assert messages(logs(home, "--json", "--since", "1h")) == ["started", "slow disk", "noise"]
    assert messages(logs(home, "--json", "-n", "1")) == ["noise"]


def test_a_task_or_session_stream_is_read_with_old_task_files_first(home: Path) -> None:
    assert messages(logs(home, "--json", "--task", "t-1")) == ["#1 x", "about t-1"]
    assert messages(logs(home, "--json", "--session", "C1-17.5")) == ["chat"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday"], "neither a duration"),
        (["--level", "loud"], "one of debug, info"),
        (["--task", "t", "--session", "s"], "not both"),
    ],
)
def test_bad_filters_are_refused_naming_the_fix(home: Path, args: list[str], says: str) -> None:
    result = logs(home, *args)
    assert result.exit_code == 2
    assert says in result.stderr


def test_follow_prints_new_records_across_the_hour_boundary(home: Path) -> None:
    runner = home / "logs" / "runner"
    env = {**os.environ, "CODEX_RUNNER_HOME": str(home)}
    command = [sys.executable, "-m", "codex_runner", "logs", "--follow", "--json", "-n", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["message"] == "noise"
        write(runner, hour_name(time.time()), rec("same hour"))
        write(runner, "2999-01-01-00.jsonl", rec("next hour"))
        seen = [json.loads(proc.stdout.readline())["message"] for _ in range(2)]
        assert seen == ["same hour", "next hour"]
    finally:
        proc.terminate()
        proc.wait(FOLLOW_TIMEOUT_S)
