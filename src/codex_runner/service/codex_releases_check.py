"""The readiness check of a Codex release, before the runner trusts it with tasks.

A short-lived app-server of the release's binary runs in a scratch runner home, pointed at
the built-in scripted model (no network, no account): the handshake, a smoke turn that must
complete with the scripted answer, and the protocol methods the runner calls, each of which
must be known to this Codex (any answer but "method not found" will do).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.connection import Launcher
from codex_runner.codex.errors import CodexError, RpcError
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.codex.process import ChildProcess, PidRegistry
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.codex.transport import StdioTransport, Transport
from codex_runner.config import RunnerConfig, load_config

if TYPE_CHECKING:
    from codex_runner.mockmodel import Script
from codex_runner.service.codex_releases import Release

SMOKE_PROMPT = "codex-runner release check"
SMOKE_ANSWER = "release check ok"
METHOD_NOT_FOUND = -32601
# The methods the runner calls besides initialize, thread/start and turn/start (which the
# smoke turn makes), with parameters Codex can parse; an error about the ids is fine.
PROBED_METHODS: tuple[tuple[str, str], ...] = (
    ("thread/resume", "thread"),
    ("thread/read", "thread"),
    ("thread/list", ""),
    ("turn/steer", "turn"),
    ("turn/interrupt", "turn"),
    ("thread/unsubscribe", "thread"),
)


@dataclass
class CheckReport:
    """Whether the release passed, and one line per step (shown to the operator)."""

    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def passed(self, line: str) -> None:
        self.lines.append(f"ok: {line}")

    def failed(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"FAILED: {line}")


# What a switch runs on the release it switches to (tests hand in their own).
ReleaseCheck = Callable[[Release], Awaitable[CheckReport]]


def smoke_script() -> Script:
    from codex_runner.mockmodel import Script

    return Script.from_dict(
        {
            "description": "codex-runner release readiness check",
            "rules": [{"name": "smoke", "responses": [[{"message": SMOKE_ANSWER}]]}],
        }
    )


async def check_release(release: Release, *, timeout_s: float = 120.0) -> CheckReport:
    """Run the readiness check on ``release``; never raises for a failing Codex."""
    report = CheckReport()
    scratch = Path(tempfile.mkdtemp(prefix="codex-runner-release-check-"))
    try:
        async with asyncio.timeout(timeout_s):
            await _check(release, scratch, report)
    except TimeoutError:
        report.failed(f"the check did not finish within {timeout_s:g}s")
    except (CodexError, OSError) as exc:
        report.failed(str(exc))
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    return report


async def _check(release: Release, scratch: Path, report: CheckReport) -> None:
    # Imported here: the daemon loads the scripted model only when a switch checks a release.
    from codex_runner.mockmodel import MockModelServer

    home = scratch / "home"
    work = scratch / "work"
    home.mkdir()
    work.mkdir()
    async with MockModelServer(smoke_script(), port=0) as model:
        settings = {
            "bin": str(release.binary),
            "runtime": "app-server",
            "config": model.codex_config(),
        }
        (home / "config.toml").write_text(tomli_w.dumps({"codex": settings}))
        loaded = load_config(home)
        # The release's binary even when CODEX_RUNNER_CODEX_BIN names another one.
        config = loaded.model_copy(
            update={"codex": loaded.codex.model_copy(update={"bin": str(release.binary)})}
        )
        runtime = AppServerRuntime(config, launcher=_launcher(config))
        try:
            await runtime.start()
        except CodexError as exc:
            report.failed(f"initialize (the handshake): {exc}")
            return
        try:
            report.passed(f"initialize: codex {runtime.status().codex_version or '?'}")
            await _smoke_turn(runtime, work, report)
        finally:
            await runtime.close()


def _launcher(config: RunnerConfig) -> Launcher:
    """A stdio app-server that has the scripted model's API key (any value does), without
    putting it in the daemon's own environment."""
    from codex_runner.mockmodel import API_KEY_ENV

    registry = PidRegistry(config.pids_dir)

    async def launch() -> tuple[Transport, ChildProcess | None]:
        binary = find_codex_binary(config.codex.bin)
        codex_home = await asyncio.to_thread(prepare_codex_home, config)
        child = await ChildProcess.spawn(
            [str(binary), "app-server", "--listen", "stdio://"],
            env={**child_environment(config, bundled_path_dir()), API_KEY_ENV: "release-check"},
            cwd=codex_home,
            registry=registry,
            stdout_limit=config.codex.max_line_bytes,
        )
        return StdioTransport(child, write_timeout_s=config.codex.request_timeout_s), child

    return launch


async def _smoke_turn(runtime: AppServerRuntime, work: Path, report: CheckReport) -> None:
    thread = await runtime.start_thread(ThreadOptions(cwd=work))
    report.passed(f"thread/start: thread {thread.id}")
    turn = await runtime.start_turn(thread.id, SMOKE_PROMPT)
    result = await turn.wait()
    answer = (result.final_message or "").strip()
    if not result.ok or answer != SMOKE_ANSWER:
        why = result.error.message if result.error is not None else f"answered {answer!r}"
        report.failed(f"turn/start: the smoke turn ended {result.status.value}: {why}")
        return
    report.passed(f"turn/start: the smoke turn completed with {answer!r}")
    for method, needs in PROBED_METHODS:
        params: dict[str, Any] = {}
        if needs:
            params["threadId"] = thread.id
        if needs == "turn":
            params["turnId"] = result.turn_id or "none"
            params["expectedTurnId"] = result.turn_id or "none"
            params["input"] = []
        try:
            await runtime.request(method, params)
            report.passed(f"{method}: answered")
        except RpcError as exc:
            if exc.code == METHOD_NOT_FOUND or "unknown variant" in exc.rpc_message:
                report.failed(f"{method}: this Codex does not know it ({exc.rpc_message})")
            else:
                report.passed(f"{method}: known (answered {exc.code}: {exc.rpc_message[:80]})")
