from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import socket
from pathlib import Path
from typing import Any

import pytest

from codex_runner.codex.rpc_log import REDACTED, RpcLog, TracingTransport, redact_line
from codex_runner.config import LogSettings
from codex_runner.daemon import logs
from codex_runner.daemon.server import ServeError, check_bind, listen
from codex_runner.daemon.startup import StartupTimes, timed
from codex_runner.logs import LogLayout, LogWriter, RawLayer

CANARY = "sk-canary0123456789abcdef"


def test_rpc_lines_lose_their_secrets() -> None:
    line = json.dumps(
        {
            "method": "account/login/start",
            "params": {"type": "apiKey", "apiKey": CANARY, "note": f"key is {CANARY}"},
            "headers": {"Authorization": "Bearer abcdefghijklmnop"},
        }
    ).encode()
    redacted = redact_line(line)
    assert CANARY not in redacted and "abcdefghijklmnop" not in redacted
    assert json.loads(redacted)["params"]["apiKey"] == REDACTED
    assert json.loads(redacted)["method"] == "account/login/start"
    assert CANARY not in redact_line(f"not json {CANARY}".encode())


def rpc_layer(tmp_path: Path, writer: LogWriter, max_bytes: int = 10_000) -> RpcLog:
    return RpcLog(RawLayer("codex-rpc", LogLayout(tmp_path), writer, max_bytes))


def rpc_entries(tmp_path: Path) -> list[dict[str, Any]]:
    files = sorted((tmp_path / "raw" / "codex-rpc").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_rpc_records_go_to_the_hourly_raw_layer_redacted(tmp_path: Path) -> None:
    writer = LogWriter()
    try:
        log = rpc_layer(tmp_path, writer)
        for i in range(3):
            log.record("out", json.dumps({"id": i, "method": "thread/start"}).encode())
        log.record("in", f"not json {CANARY}".encode())
        assert writer.flush()
    finally:
        writer.close()
    entries = rpc_entries(tmp_path)
    assert [e["msg"]["id"] for e in entries[:3]] == [0, 1, 2]
    assert entries[3]["dir"] == "in" and CANARY not in entries[3]["msg"]


class _Loopback:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, line: bytes) -> None:
        self.sent.append(line)

    async def receive(self) -> bytes:
        return b'{"id":1,"result":{"token":"tok-secret-value"}}'

    async def close(self) -> None: ...

    def describe(self) -> str:
        return "loopback"


async def test_tracing_transport_logs_both_directions_and_passes_lines_through(
    tmp_path: Path,
) -> None:
    inner = _Loopback()
    writer = LogWriter()
    try:
        traced = TracingTransport(inner, rpc_layer(tmp_path, writer))
        await traced.send(b'{"id":1,"method":"initialize"}')
        assert await traced.receive() == b'{"id":1,"result":{"token":"tok-secret-value"}}'
        assert writer.flush()
    finally:
        writer.close()
    assert inner.sent == [b'{"id":1,"method":"initialize"}']
    entries = rpc_entries(tmp_path)
    assert [e["dir"] for e in entries] == ["out", "in"]
    assert "tok-secret-value" not in json.dumps(entries)


def runner_lines(tmp_path: Path) -> list[str]:
    files = sorted((tmp_path / "runner").glob("*.jsonl"))
    return [line for f in files for line in f.read_text().splitlines()]


def test_the_structured_log_is_json_and_redacted(tmp_path: Path) -> None:
    handler = logs.install(tmp_path)
    try:
        logging.getLogger("codex_runner.test").warning("login with %s failed", CANARY)
    finally:
        handler.stop()
    (line,) = runner_lines(tmp_path)
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "codex_runner.test"
    assert CANARY not in line


def test_structured_fields_are_logged_and_redacted_too(tmp_path: Path) -> None:
    handler = logs.install(tmp_path)
    try:
        fields = {"total_s": 0.5, "note": f"key {CANARY}"}
        logging.getLogger("codex_runner.test").info("ready", extra={"fields": fields})
    finally:
        handler.stop()
    (line,) = runner_lines(tmp_path)
    assert json.loads(line)["fields"]["total_s"] == 0.5
    assert CANARY not in line


def test_the_handler_outlives_logging_closing_every_handler(tmp_path: Path) -> None:
    handler = logs.install(tmp_path)
    try:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger("codex_runner.test").warning("after uvicorn set up its logging")
    finally:
        handler.stop()
    (line,) = runner_lines(tmp_path)
    assert json.loads(line)["message"] == "after uvicorn set up its logging"


def test_raw_layers_are_off_unless_switched_on_and_rpc_log_is_an_alias(tmp_path: Path) -> None:
    handlers = [
        logs.install(tmp_path),
        logs.install(tmp_path, rpc_log=True),
        logs.install(tmp_path, LogSettings(raw_http=True, raw_slack_events=True)),
    ]
    for handler in handlers:
        handler.stop()
    assert [sorted(h.raw) for h in handlers] == [[], ["codex-rpc"], ["http", "slack-events"]]


async def test_timed_steps_are_recorded_even_when_they_fail() -> None:
    times = StartupTimes()
    assert await timed(asyncio.sleep(0.01, result="ok"), times, "store_s") == "ok"
    assert times.store_s >= 0.01

    async def broken() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await timed(broken(), times, "codex_s")
    assert times.codex_s >= 0.01
    assert set(times.fields()) >= {"store_s", "codex_s", "total_s"}


def test_binding_beyond_loopback_needs_an_explicit_flag() -> None:
    assert check_bind("127.0.0.1", False) is None
    assert check_bind("::1", False) is None
    assert check_bind("localhost", False) is None
    with pytest.raises(ServeError, match="--allow-remote"):
        check_bind("0.0.0.0", False)
    warning = check_bind("0.0.0.0", True)
    assert warning is not None and "warning" in warning


def test_api_connections_send_small_writes_at_once() -> None:
    """TCP_NODELAY on every accepted connection (else each response waits ~40 ms)."""
    server = listen("127.0.0.1", 0)
    try:
        with socket.create_connection(server.getsockname(), timeout=5):
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.close()


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = listen("127.0.0.1", 0)
    try:
        with pytest.raises(ServeError, match="pick another --port"):
            listen("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_a_port_out_of_range_is_refused_naming_the_range() -> None:
    with pytest.raises(ServeError, match="from 0 to 65535"):
        listen("127.0.0.1", 99999)


def test_serve_with_a_port_out_of_range_is_a_usage_error_not_a_traceback() -> None:
    from typer.testing import CliRunner

    from codex_runner.cli.main import build_app

    result = CliRunner().invoke(build_app("serve"), ["serve", "--port", "99999"])
    assert result.exit_code == 2
    assert "--port" in result.output and "65535" in result.output
    assert "Traceback" not in result.output
