"""doctor: each problem is reported as an error with its fix; the rest still runs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_runner.auth.api_key_store import ApiKeyStore
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.transport import Transport
from codex_runner.runner_home.api_token import ensure_token
from codex_runner.runner_home.daemon_info import DaemonInfo, write_info
from codex_runner.service.daemon_link import DaemonLink, FakeDaemonLink
from codex_runner.service.doctor import run_doctor
from codex_runner.service.doctor_checks import DoctorReport, Level

NO_ACCOUNT = {"account": None, "requiresOpenaiAuth": True}
# No daemon runs in these homes: the link is never asked.
NO_DAEMON: DaemonLink = FakeDaemonLink(unanswered="asked without a running daemon")


@pytest.fixture(autouse=True)
def no_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real Codex in unit tests: the binary is missing, the app-server is a fake peer."""
    monkeypatch.setenv("CODEX_RUNNER_CODEX_BIN", "/nonexistent/codex")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def fake_codex(account: dict[str, Any]) -> Callable[[], Any]:
    tasks: set[asyncio.Task[None]] = set()  # keeps the peers' tasks alive

    async def play(peer: FakeCodexPeer) -> None:
        await peer.handshake()
        peer.reply(await peer.expect_request("account/read"), account)
        if (account.get("account") or {}).get("type") == "chatgpt":
            limits = await peer.expect_request("account/rateLimits/read")
            peer.reply(limits, {"rateLimits": {"primary": {"usedPercent": 5}}})

    async def launch() -> tuple[Transport, ChildProcess | None]:
        transport = FakeTransport()
        tasks.add(asyncio.create_task(play(FakeCodexPeer(transport))))
        return transport, None

    return launch


def _check(report: DoctorReport, name: str) -> tuple[Level, str, str | None]:
    found = [c for c in report.checks if c.name == name]
    assert found, f"no check named {name}"
    worst = max(found, key=lambda c: list(Level).index(c.level))
    return worst.level, worst.message, worst.fix


async def test_a_missing_binary_is_an_error_and_codex_is_not_started(tmp_path: Path) -> None:
    report = await run_doctor(tmp_path, daemon=NO_DAEMON)
    level, message, _ = _check(report, "codex binary")
    assert level is Level.ERROR and "/nonexistent/codex" in message
    assert "CODEX_RUNNER_CODEX_BIN" in message
    assert _check(report, "app-server")[0] is Level.ERROR
    assert not report.ok
    assert report.to_dict()["ok"] is False


async def test_no_auth_is_an_error_that_says_how_to_log_in(tmp_path: Path) -> None:
    report = await run_doctor(tmp_path, daemon=NO_DAEMON, launcher=fake_codex(NO_ACCOUNT))
    assert _check(report, "app-server")[0] is Level.OK
    level, message, fix = _check(report, "auth")
    assert level is Level.ERROR and "no credentials" in message
    assert fix is not None and "set-openai-key" in fix and "auth-chatgpt" in fix


async def test_an_accepted_login_is_ok(tmp_path: Path) -> None:
    account = {"account": {"type": "chatgpt", "email": "a@b.c", "planType": "team"}}
    report = await run_doctor(tmp_path, daemon=NO_DAEMON, launcher=fake_codex(account))
    level, message, _ = _check(report, "auth")
    assert level is Level.OK and "ChatGPT as a@b.c (plan team)" in message


async def test_a_world_readable_secrets_file_is_an_error_with_chmod(tmp_path: Path) -> None:
    ApiKeyStore(tmp_path).save("sk-doctor-canary")
    key_file = tmp_path / "secrets" / "openai-api-key"
    key_file.chmod(0o644)
    report = await run_doctor(tmp_path, daemon=NO_DAEMON, launcher=fake_codex(NO_ACCOUNT))
    level, message, _ = _check(report, "secret files")
    assert level is Level.ERROR and f"chmod 600 {key_file}" in message
    assert "sk-doctor-canary" not in str(report.to_dict())


async def test_a_readable_config_holding_slack_tokens_is_an_error_with_chmod(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[slack]\nbot_token = "xoxb-doctor-canary"\n')
    config.chmod(0o644)
    report = await run_doctor(tmp_path, daemon=NO_DAEMON, launcher=fake_codex(NO_ACCOUNT))
    level, message, _ = _check(report, "secret files")
    assert level is Level.ERROR and f"chmod 600 {config}" in message
    assert "xoxb-doctor-canary" not in str(report.to_dict())
    config.chmod(0o600)
    report = await run_doctor(tmp_path, daemon=NO_DAEMON, launcher=fake_codex(NO_ACCOUNT))
    level, _, _ = _check(report, "secret files")
    assert level is Level.OK


async def test_a_world_writable_state_directory_is_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    level, _, fix = _check(await run_doctor(home, daemon=NO_DAEMON), "state directory")
    assert level is Level.ERROR and fix == f"chmod 700 {home}"


async def test_invalid_config_is_an_error_and_other_checks_still_run(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[codex]\nsandbox = 'wide-open'\n")
    report = await run_doctor(tmp_path, daemon=NO_DAEMON)
    level, message, _ = _check(report, "config")
    assert level is Level.ERROR and "codex.sandbox" in message
    assert _check(report, "disk space")[0] is Level.OK


def _daemon(home: Path, status_code: int) -> FakeDaemonLink:
    """A daemon running for ``home`` that answers /v1/status with ``status_code``."""
    ensure_token(home)
    write_info(home, DaemonInfo("http://daemon.test", os.getpid(), "2026-01-01T00:00:00Z"))
    return FakeDaemonLink(healthz=200, status=status_code)


async def test_a_running_daemon_that_accepts_the_token_is_ok(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, 200)
    level, message, _ = _check(await run_doctor(tmp_path, daemon=daemon), "daemon")
    assert level is Level.OK and "token is accepted" in message
    token = (tmp_path / "api-token").read_text().strip()
    assert daemon.asked == [("answers", "http://daemon.test", token)]


async def test_a_daemon_that_rejects_the_token_is_an_error(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, 401)
    level, message, _ = _check(await run_doctor(tmp_path, daemon=daemon), "daemon")
    assert level is Level.ERROR and "rejected the token" in message


async def test_a_running_daemon_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, 200)
    daemon.unanswered = "ConnectError"
    level, message, fix = _check(await run_doctor(tmp_path, daemon=daemon), "daemon")
    assert level is Level.ERROR and "does not answer (ConnectError)" in message
    assert fix is not None and "codex-runner serve" in fix


async def test_no_daemon_is_fine(tmp_path: Path) -> None:
    level, message, _ = _check(await run_doctor(tmp_path, daemon=NO_DAEMON), "daemon")
    assert level is Level.OK and "not running" in message
