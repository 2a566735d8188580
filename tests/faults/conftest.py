"""Fixtures of the fault suite: the real daemon and real Codex against the scripted model,
with short timeouts so that every fault ends within seconds, not the defaults' minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer, Script

from ..acceptance.conftest import repo
from ..acceptance.daemon.conftest import DAEMON_RULES
from ..acceptance.daemon.harness import Daemon, write_config
from ..acceptance.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from .invariants import assert_no_orphans

__all__ = ["repo"]

FAULT_RULES: list[dict[str, Any]] = [
    # A command that asks to run outside the sandbox: Codex requests an approval.
    {
        "match": "needs approval",
        "responses": [
            [{"shell": "touch approved.txt", "justification": "write a file"}],
            [{"message": "approved and done"}],
        ],
    },
    # Large events: about 7 MB of history per task, more than a socket's send buffer
    # (tcp_wmem's 4 MB maximum), so that a client reading nothing backs the daemon up.
    {
        "match": "flood",
        "responses": [*[[{"shell": "seq 1 200000"}]] * 6, [{"message": "flooded"}]],
    },
    {"match": "busy work", "responses": [[{"shell": "sleep 30"}], [{"message": "worked"}]]},
    {
        "match": "bad gateway",
        "responses": [[{"http_error": 502, "body": '{"error": {"message": "boom from model"}}'}]],
    },
    # A healthy task whose turn died with Codex (beside a poison task) is continued on its
    # thread; like a real model, the script redoes the step the crash cut short. Before
    # DAEMON_RULES, whose poison rule answers the same words only in poison sessions.
    {
        "regex": "Continue where you left off",
        "first_regex": "write notes",
        "responses": [
            [{"write_file": {"path": "notes.txt", "content": "notes\n"}}],
            [{"message": "wrote notes"}],
        ],
    },
    *DAEMON_RULES,
]

# Short bounds: the idle watchdog ends a hung turn, the grace bounds every stop.
FAST_SERVICE: dict[str, Any] = {"max_concurrent_tasks": 4}
FAST_CODEX: dict[str, Any] = {
    "sandbox": "danger-full-access",
    "approval_policy": "never",
    "turn_idle_timeout_s": 8,
    "shutdown_grace_s": 1,
}

StartDaemon = Callable[..., Awaitable[Daemon]]


class ModelEndpoint(Protocol):
    """What the daemon's config needs of a model server: Codex's settings to reach it."""

    def codex_config(self) -> dict[str, Any]: ...


@pytest.fixture
async def fault_model() -> AsyncIterator[MockModelServer]:
    async with MockModelServer(Script.from_dict({"rules": FAULT_RULES}), port=0) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
async def fake_slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    """A fake Slack on 127.0.0.1 for a daemon started with ``slack=slack_settings(...)``."""
    # The daemon inherits the environment, where these would override its config.toml.
    for name in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    async with FakeSlack() as slack:
        yield slack


def slack_settings(slack: FakeSlack) -> dict[str, Any]:
    """The daemon's ``[slack]`` table for a bridge talking to ``slack``."""
    return {
        "app_token": APP_TOKEN,
        "bot_token": BOT_TOKEN,
        "api_url": slack.api_url,
        "delivery_retry_base_s": 0.05,
        "delivery_retry_max_s": 0.2,
    }


@pytest.fixture
async def start_daemon(
    tmp_path: Path, home: Path, fault_model: MockModelServer
) -> AsyncIterator[StartDaemon]:
    """Start (or restart) the daemon on the test's home; every daemon is stopped at the end
    and no process of the test may outlive it."""
    started: list[Daemon] = []

    async def start(
        *,
        service: dict[str, Any] | None = None,
        codex: dict[str, Any] | None = None,
        model: ModelEndpoint | None = None,
        wrapper: Sequence[str] = (),
        slack: dict[str, Any] | None = None,
    ) -> Daemon:
        write_config(
            home,
            model or fault_model,  # type: ignore[arg-type]  # only its codex_config() is used
            service={**FAST_SERVICE, **(service or {})},
            codex={**FAST_CODEX, **(codex or {})},
        )
        if slack is not None:  # the bridge runs in the daemon, as a user configures it
            with (home / "config.toml").open("a") as config:
                config.write("\n" + tomli_w.dumps({"slack": slack}))
        daemon = Daemon(home)
        # Outside the home: a scenario may delete the home or make it read-only.
        daemon.log = tmp_path / "serve.log"
        daemon.wrapper = list(wrapper)
        started.append(daemon)
        await daemon.start()
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()
    await assert_no_orphans(tmp_path)
