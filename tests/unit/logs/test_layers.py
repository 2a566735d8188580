"""The layered logs: hourly rotation by the writer's clock, fan-out per task and session,
redaction of a canary secret in every layer, raw records cut past their cap."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from codex_runner.logs import LayeredLogHandler, LogLayout, LogWriter, RawLayer, log_context

CANARY = "sk-canary0123456789abcdef"
# 2026-03-01 10:59:59 UTC, one second before the hour turns.
BEFORE_HOUR = 1772362799.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def clock() -> Clock:
    return Clock(BEFORE_HOUR)


@pytest.fixture
def writer(clock: Clock) -> Iterator[LogWriter]:
    out = LogWriter(clock=clock, queue_size=100)
    yield out
    out.close()


@pytest.fixture
def logger(tmp_path: Path, writer: LogWriter) -> Iterator[logging.Logger]:
    handler = LayeredLogHandler(LogLayout(tmp_path), writer, level=logging.DEBUG)
    log = logging.getLogger(f"codex_runner.test_logs.{tmp_path.name}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)


def test_records_go_to_the_file_of_the_hour_the_clock_says(
    tmp_path: Path, clock: Clock, writer: LogWriter, logger: logging.Logger
) -> None:
    logger.info("before the hour")
    clock.now += 2
    logger.warning("after the hour")
    assert writer.flush()
    runner = tmp_path / "runner"
    assert sorted(p.name for p in runner.iterdir()) == [
        "2026-03-01-10.jsonl",
        "2026-03-01-11.jsonl",
    ]
    (before,) = lines(runner / "2026-03-01-10.jsonl")
    (after,) = lines(runner / "2026-03-01-11.jsonl")
    assert before["message"] == "before the hour" and before["level"] == "info"
    assert after["message"] == "after the hour" and after["level"] == "warning"
    assert str(after["at"]).startswith("2026-03-01T11:00:01")


def test_a_record_about_a_task_or_session_is_copied_to_its_stream(
    tmp_path: Path, writer: LogWriter, logger: logging.Logger
) -> None:
    with log_context(task_id="t-1"):
        logger.info("working on the task")
    logger.info("a chat message", extra={"session_key": "C1-17.5"})
    logger.info("unrelated")
    assert writer.flush()
    layout = LogLayout(tmp_path)
    (task_record,) = lines(layout.task("t-1") / "2026-03-01-10.jsonl")
    assert task_record["message"] == "working on the task"
    assert task_record["task_id"] == "t-1"
    (session_record,) = lines(layout.session("C1-17.5") / "2026-03-01-10.jsonl")
    assert session_record["session_key"] == "C1-17.5"
    assert len(lines(layout.runner / "2026-03-01-10.jsonl")) == 3


def test_a_canary_secret_never_reaches_the_runner_log(
    tmp_path: Path, writer: LogWriter, logger: logging.Logger
) -> None:
    try:
        raise RuntimeError(f"the provider refused key {CANARY}")
    except RuntimeError:
        logger.exception("call failed with %s", CANARY, extra={"fields": {"api_key": "plain"}})
    assert writer.flush()
    text = (tmp_path / "runner" / "2026-03-01-10.jsonl").read_text()
    assert CANARY not in text and "plain" not in text
    assert "[redacted]" in text and "RuntimeError" in text


@pytest.mark.parametrize("layer", ["codex-rpc", "slack-events", "http"])
def test_a_canary_secret_never_reaches_a_raw_layer(
    tmp_path: Path, writer: LogWriter, layer: str
) -> None:
    raw = RawLayer(layer, LogLayout(tmp_path), writer, max_bytes=4096)
    raw.record({"msg": {"params": {"text": f"use {CANARY}", "token": "xoxb-plain-token"}}})
    assert writer.flush()
    text = (tmp_path / "raw" / layer / "2026-03-01-10.jsonl").read_text()
    assert CANARY not in text and "xoxb-plain-token" not in text
    assert text.count("[redacted]") == 2


def test_a_raw_record_past_the_cap_is_cut_and_says_so(tmp_path: Path, writer: LogWriter) -> None:
    raw = RawLayer("codex-rpc", LogLayout(tmp_path), writer, max_bytes=512)
    raw.record({"dir": "in", "msg": {"text": "é" * 5000}})
    assert writer.flush()
    data = (tmp_path / "raw" / "codex-rpc" / "2026-03-01-10.jsonl").read_bytes()
    assert len(data) <= 512 + 64
    (record,) = lines(tmp_path / "raw" / "codex-rpc" / "2026-03-01-10.jsonl")
    assert record["dir"] == "in" and int(str(record["truncated"])) > 5000


def test_lines_beyond_a_full_queue_are_dropped_and_counted(tmp_path: Path, clock: Clock) -> None:
    writer = LogWriter(clock=clock, queue_size=1, drop_notices=tmp_path / "runner")
    try:
        results = [writer.put(tmp_path / "s", b'{"n":%d}' % i) for i in range(2000)]
        assert writer.flush()
        assert writer.dropped == results.count(False)
        if writer.dropped:  # the thread may keep up on a fast disk: then nothing was lost
            notices = lines(tmp_path / "runner" / "2026-03-01-10.jsonl")
            said = [str(n["message"]).split(" log records dropped")[0] for n in notices]
            assert sum(int(n) for n in said) == writer.dropped
        written = lines(tmp_path / "s" / "2026-03-01-10.jsonl")
        assert len(written) == results.count(True)
    finally:
        writer.close()


def test_token_counts_are_not_taken_for_tokens(
    tmp_path: Path, writer: LogWriter, logger: logging.Logger
) -> None:
    fields = {"total_tokens": 7, "tokenUsage": {"input": 3}, "api_token": "plain"}
    logger.info("usage", extra={"fields": fields})
    assert writer.flush()
    (record,) = lines(tmp_path / "runner" / "2026-03-01-10.jsonl")
    assert record["fields"] == {**fields, "api_token": "[redacted]"}
