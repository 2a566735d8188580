"""TaskLogFiles: one JSONL file per task, appended in order, with a bounded set of open files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.service.task_log import TaskLogFiles

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(task_id: str, seq: int) -> TaskEvent:
    return TaskEvent(task_id, seq, "task.state_changed", AT, {"n": seq})


def seqs(logs: TaskLogFiles, task_id: str) -> list[int]:
    lines = logs.path(task_id).read_text().splitlines()
    return [json.loads(line)["seq"] for line in lines]


def test_each_batch_is_on_disk_when_write_returns(tmp_path: Path) -> None:
    logs = TaskLogFiles(tmp_path)
    logs.write([event("t1", 1), event("t2", 1), event("t1", 2)])
    assert seqs(logs, "t1") == [1, 2]  # read back through another file object: flushed
    assert seqs(logs, "t2") == [1]
    logs.write([event("t1", 3)])
    assert seqs(logs, "t1") == [1, 2, 3]
    logs.close()


def test_more_tasks_than_open_files_lose_no_line(tmp_path: Path) -> None:
    logs = TaskLogFiles(tmp_path, max_open=2)
    for seq in range(1, 4):
        logs.write([event(f"t{n}", seq) for n in range(5)])  # 5 tasks through 2 open files
    assert len(logs._open) == 2
    for n in range(5):
        assert seqs(logs, f"t{n}") == [1, 2, 3]
    logs.close()
    assert not logs._open


def test_a_write_after_close_reopens_and_appends(tmp_path: Path) -> None:
    logs = TaskLogFiles(tmp_path)
    logs.write([event("t1", 1)])
    logs.close()
    logs.write([event("t1", 2)])
    assert seqs(logs, "t1") == [1, 2]
    logs.close()


def test_an_unwritable_log_is_reported_and_the_others_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = TaskLogFiles(tmp_path)
    logs.path("bad").mkdir()  # a directory where the file should be: open() fails
    logs.write([event("bad", 1), event("good", 1)])
    assert seqs(logs, "good") == [1]
    assert "task logs cannot be written" in caplog.text
    assert "first lost: task bad" in caplog.text
    logs.close()


def test_a_failing_directory_is_reported_once_not_per_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "tasks"
    logs = TaskLogFiles(directory)
    directory.rmdir()  # the home was deleted under the daemon
    for seq in range(1, 20):
        logs.write([event("t1", seq), event("t2", seq)])
    failures = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is None  # one line, no traceback
    directory.mkdir()
    logs.write([event("t1", 20)])
    assert seqs(logs, "t1") == [20]
    assert "written again" in caplog.text
    logs.close()


def test_max_open_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_open"):
        TaskLogFiles(tmp_path, max_open=0)
