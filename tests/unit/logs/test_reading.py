"""Reading the layered logs back: filters, the old per-task file, a tail across the hour,
and retention by the hour a file names."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from codex_runner.logs import LogLayout, LogQuery, Tail, read, remove_old_logs

HOUR = 3600.0
T0 = 1772359200.0  # 2026-03-01 10:00:00 UTC


def write(directory: Path, name: str, *records: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("ab") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")


def rec(
    message: str, level: str = "info", at: str = "2026-03-01T10:30:00+00:00"
) -> dict[str, object]:
    return {"at": at, "level": level, "logger": "codex_runner.x", "message": message}


def test_read_filters_by_level_and_time_and_keeps_the_last_limit(tmp_path: Path) -> None:
    layout = LogLayout(tmp_path)
    write(layout.runner, "2026-03-01-09.jsonl", rec("old", "error", "2026-03-01T09:10:00+00:00"))
    write(
        layout.runner,
        "2026-03-01-10.jsonl",
        rec("a"),
        rec("b", "warning"),
        rec("c", "error"),
        rec("d", "debug"),
    )
    assert [r["message"] for r in read(layout, LogQuery())] == ["old", "a", "b", "c", "d"]
    warnings = read(layout, LogQuery(level="warning"))
    assert [r["message"] for r in warnings] == ["old", "b", "c"]
    since = read(layout, LogQuery(level="warning", since=T0))
    assert [r["message"] for r in since] == ["b", "c"]
    assert [r["message"] for r in read(layout, LogQuery(limit=2))] == ["c", "d"]


def test_a_task_stream_reads_the_old_single_file_first_then_the_hourly_ones(
    tmp_path: Path,
) -> None:
    layout = LogLayout(tmp_path)
    event = {"task_id": "t-1", "seq": 1, "type": "task.created", "at": "2026-03-01T08:00:00+00:00"}
    write(layout.root / "tasks", "t-1.jsonl", event)
    write(layout.task("t-1"), "2026-03-01-10.jsonl", {**event, "seq": 2, "type": "turn.started"})
    records = read(layout, LogQuery(task="t-1"))
    assert [r["message"] for r in records] == ["#1 task.created", "#2 turn.started"]
    assert {r["level"] for r in records} == {"info"}


def test_a_query_refuses_two_streams_and_unknown_levels() -> None:
    with pytest.raises(ValueError, match="not both"):
        LogQuery(task="t", session="s")
    with pytest.raises(ValueError, match="one of debug, info"):
        LogQuery(level="loud")


def test_a_tail_follows_new_lines_across_the_hour_boundary(tmp_path: Path) -> None:
    layout = LogLayout(tmp_path)
    write(layout.runner, "2026-03-01-10.jsonl", rec("already there"))
    tail = Tail(layout, LogQuery(level="info"))
    assert tail.poll() == []
    write(layout.runner, "2026-03-01-10.jsonl", rec("late in the hour"), rec("noise", "debug"))
    write(layout.runner, "2026-03-01-11.jsonl", rec("next hour"))
    assert [r["message"] for r in tail.poll()] == ["late in the hour", "next hour"]
    with (layout.runner / "2026-03-01-11.jsonl").open("ab") as out:
        out.write(b'{"level":"info","message":"half')
    assert tail.poll() == []
    with (layout.runner / "2026-03-01-11.jsonl").open("ab") as out:
        out.write(b' done"}\n')
    assert [r["message"] for r in tail.poll()] == ["half done"]


def test_retention_removes_hourly_files_past_it_by_their_name_and_empty_task_dirs(
    tmp_path: Path,
) -> None:
    layout = LogLayout(tmp_path)
    write(layout.runner, "2026-03-01-08.jsonl", rec("old"))
    write(layout.runner, "2026-03-01-10.jsonl", rec("recent"))
    write(layout.task("t-old"), "2026-03-01-08.jsonl", rec("old task"))
    now = T0 + HOUR  # 11:00
    dry = remove_old_logs(tmp_path, retention_s=1.5 * HOUR, now=now, dry_run=True)
    assert sorted(p.name for p in dry.files) == ["2026-03-01-08.jsonl"] * 2
    assert (layout.runner / "2026-03-01-08.jsonl").exists()
    removed = remove_old_logs(tmp_path, retention_s=1.5 * HOUR, now=now)
    assert removed.bytes == dry.bytes > 0
    assert not (layout.runner / "2026-03-01-08.jsonl").exists()
    assert (layout.runner / "2026-03-01-10.jsonl").exists()
    assert not layout.task("t-old").exists()
    assert layout.runner.is_dir()
