from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest

from codex_runner.codex.rpc_log import REDACTED, RpcLog, TracingTransport, redact_line
from codex_runner.daemon import logs
from codex_runner.daemon.server import ServeError, check_bind, listen
from codex_runner.daemon.startup import StartupTimes, timed

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


def test_the_rpc_log_rotates_at_its_cap(tmp_path: Path) -> None:
    log = RpcLog(tmp_path / "rpc.jsonl", max_bytes=2_000)
    for i in range(100):
        log.record("out", json.dumps({"id": i, "method": "thread/start"}).encode())
    assert (tmp_path / "rpc.jsonl").stat().st_size <= 2_000
    assert (tmp_path / "rpc.jsonl.1").stat().st_size <= 2_000
    last = (tmp_path / "rpc.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["msg"]["id"] == 99


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
    traced = TracingTransport(inner, RpcLog(tmp_path / "rpc.jsonl", 10_000))
    await traced.send(b'{"id":1,"method":"initialize"}')
    assert await traced.receive() == b'{"id":1,"result":{"token":"tok-secret-value"}}'
    assert inner.sent == [b'{"id":1,"method":"initialize"}']
    entries = [json.loads(x) for x in (tmp_path / "rpc.jsonl").read_text().splitlines()]
    assert [e["dir"] for e in entries] == ["out", "in"]
    assert "tok-secret-value" not in (tmp_path / "rpc.jsonl").read_text()


def test_the_structured_log_is_json_and_redacted(tmp_path: Path) -> None:
    handler = logs.install(tmp_path)
    try:
        logging.getLogger("codex_runner.test").warning("login with %s failed", CANARY)
    finally:
        logging.getLogger("codex_runner").removeHandler(handler)
        handler.close()
    (line,) = (tmp_path / logs.LOG_FILE).read_text().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "codex_runner.test"
    assert CANARY not in line


def test_structured_fields_are_logged_and_redacted_too(tmp_path: Path) -> None:
    handler = logs.install(tmp_path)
    try:
        fields = {"total_s": 0.5, "note": f"key {CANARY}"}
        logging.getLogger("codex_runner.test").info("ready", extra={"fields": fields})
    finally:
        logging.getLogger("codex_runner").removeHandler(handler)
        handler.close()
    (line,) = (tmp_path / logs.LOG_FILE).read_text().splitlines()
    assert json.loads(line)["fields"]["total_s"] == 0.5
    assert CANARY not in line


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
