"""The logging handler of the layered logs: every record to ``logs/runner/``, and a copy to
the task's and the chat session's streams when the record is about one.

``emit`` formats and redacts on the caller's thread (a record's arguments may change once it
returns) and queues the line on the :class:`~codex_runner.logs.writer.LogWriter`; it never
waits for the disk.
"""

from __future__ import annotations

import logging

import orjson

from codex_runner.logs.layout import LogLayout
from codex_runner.logs.records import about, record_dict
from codex_runner.logs.writer import LogWriter


class LayeredLogHandler(logging.Handler):
    def __init__(self, layout: LogLayout, writer: LogWriter, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.layout = layout
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exception = self.format_exception(record)
            about_ = about(record)
            # The writer's clock names the file and the record's time alike (a test's
            # clock moves both across the hour).
            at = self.writer.clock()
            line = orjson.dumps(record_dict(record, exception, about_, at), default=str)
            self.writer.put(self.layout.runner, line, at=at)
            if "task_id" in about_:
                self.writer.put(self.layout.task(about_["task_id"]), line, at=at)
            if "session_key" in about_:
                self.writer.put(self.layout.session(about_["session_key"]), line, at=at)
        except Exception:
            self.handleError(record)

    def format_exception(self, record: logging.LogRecord) -> str | None:
        if record.exc_info:
            return logging.Formatter().formatException(record.exc_info)
        return None
