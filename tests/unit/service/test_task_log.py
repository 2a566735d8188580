"""TaskLogFiles: each task's events in its stream's file of the hour, appended in order,
with a bounded set of open files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.logs import LogLayout, LogQuery, read
from codex_runner.service.task_log import TaskLogFiles

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NOW = 1772362799.0  # 2026-03-01 10:59:59 UTC


def event(task_id: str, seq: int) -> TaskEvent:
    return TaskEvent(task_id, seq, "task.state_changed", AT, {"n": seq})


def seqs(logs: TaskLogFiles, task_id: str) -> list[int]:
    files = sorted(logs.stream(task_id).glob("*.jsonl"))
    return [json.loads(line)["seq"] for f in files for line in f.read_text().splitlines()]


def logs_at(directory: Path, **kwargs: int) -> TaskLogFiles:
    return TaskLogFiles(directory, clock=lambda: NOW, **kwargs)


def test_each_batch_is_on_disk_when_write_returns(tmp_path: Path) -> None:
    logs = logs_at(tmp_path)
    logs.write([event("t1", 1), event("t2", 1), event("t1", 2)])
    assert seqs(logs, "t1") == [1, 2]  # read back through another file object: written
    assert seqs(logs, "t2") == [1]
    logs.write([event("t1", 3)])
    assert seqs(logs, "t1") == [1, 2, 3]
    assert logs.path("t1") == tmp_path / "t1" / "2026-03-01-10.jsonl"
    logs.close()


def test_the_next_hour_starts_a_new_file_and_the_reader_reads_both(tmp_path: Path) -> None:
    now = [NOW]
    logs = TaskLogFiles(tmp_path / "tasks", clock=lambda: now[0])
    logs.write([event("t1", 1)])
    now[0] += 2
    logs.write([event("t1", 2)])
    names = sorted(p.name for p in logs.stream("t1").iterdir())
    assert names == ["2026-03-01-10.jsonl", "2026-03-01-11.jsonl"]
    records = read(LogLayout(tmp_path), LogQuery(task="t1"))
    assert [r["message"] for r in records] == ["#1 task.state_changed", "#2 task.state_changed"]
    logs.close()


def test_more_tasks_than_open_files_lose_no_line(tmp_path: Path) -> None:
    logs = logs_at(tmp_path, max_open=2)
    for seq in range(1, 4):
        logs.write([event(f"t{n}", seq) for n in range(5)])  # 5 tasks through 2 open files
    assert len(logs._files._open) == 2
    for n in range(5):
        assert seqs(logs, f"t{n}") == [1, 2, 3]
    logs.close()
    assert not logs._files._open


def test_a_write_after_close_reopens_and_appends(tmp_path: Path) -> None:
    logs = logs_at(tmp_path)
    logs.write([event("t1", 1)])
    logs.close()
    logs.write([event("t1", 2)])
    assert seqs(logs, "t1") == [1, 2]
    logs.close()


def test_an_unwritable_log_is_reported_and_the_others_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = logs_at(tmp_path)
    logs.path("bad").mkdir(parents=True)  # a directory where the file should be: open() fails
    logs.write([event("bad", 1), event("good", 1)])
    assert seqs(logs, "good") == [1]
    assert "task logs cannot be written" in caplog.text
    assert "first lost: task bad" in caplog.text
    logs.close()


def test_a_failing_directory_is_reported_once_not_per_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "tasks"
    logs = logs_at(directory)
    directory.rmdir()  # the home was deleted under the daemon
    for seq in range(1, 20):
        logs.write([event("t1", seq), event("t2", seq)])
    failures = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is None  # one line, no traceback
    assert not directory.exists()  # not quietly re-created
    directory.mkdir()
    logs.write([event("t1", 20)])
    assert seqs(logs, "t1") == [20]
    assert "written again" in caplog.text
    logs.close()


def test_max_open_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_open"):
        TaskLogFiles(tmp_path, max_open=0)


def test_a_canary_secret_in_an_event_is_masked_in_the_task_log(tmp_path: Path) -> None:
    canary = "sk-canary0123456789abcdef"
    logs = logs_at(tmp_path)
    data = {"output": f"export OPENAI_API_KEY={canary}", "total_tokens": 12}
    logs.write([TaskEvent("t1", 1, "codex.item.completed", AT, data)])
    logs.close()
    text = logs.path("t1").read_text()
    assert canary not in text
    record = json.loads(text)
    assert record["data"] == {"output": "export OPENAI_API_KEY=[redacted]", "total_tokens": 12}
