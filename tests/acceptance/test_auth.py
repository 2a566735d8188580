"""Authentication, auth profiles and doctor with the real codex binary, offline."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codex_runner.auth.login import LoginCancelled, LoginPrompt, login_with_chatgpt
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.config import RunnerConfig, load_config
from codex_runner.domain.events import TurnStatus
from codex_runner.mockmodel import MockModelServer
from codex_runner.runner_home.team_home import team_home
from codex_runner.service.profile_switch import ProfileSwitcher, SwitchMode, SwitchRefused

from .conftest import ConfigFactory

pytestmark = pytest.mark.acceptance

CLI = [sys.executable, "-m", "codex_runner"]
CANARY = "sk-canary-5f0c1d2e3b4a69788796a5b4c3d2e1f0"
TEAM_MARKER = "TEAM-AGENTS-MARKER-7731"
# Nothing may reach the network: a proxy on a closed port makes any attempt fail fast.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


class Cli:
    """Runs codex-runner as a user would, against one runner home; keeps all output."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.outputs: list[str] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("NO_PROXY", "no_proxy", "CODEX_HOME")
        }
        env |= {
            "CODEX_RUNNER_HOME": str(self.home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEX_RUNNER_LOG_LEVEL": "DEBUG",  # the most the runner ever logs
            "MOCK_API_KEY": "mock-key",
            **OFFLINE,
        }
        return env | (extra or {})

    async def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(env),
        )
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin.encode() if stdin is not None else None), 120
            )
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        self.outputs += [out.decode(), err.decode()]
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def cli(make_config: ConfigFactory) -> Cli:
    return Cli(make_config().home)


@pytest.fixture
async def runtime(make_config: ConfigFactory) -> AsyncIterator[AppServerRuntime]:
    async with AppServerRuntime(make_config()) as runtime:
        yield runtime


def files_containing(root: Path, needle: str) -> set[Path]:
    found = set()
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle.encode() in path.read_bytes():
            found.add(path.relative_to(root))
    return found


# API key ---------------------------------------------------------------------------------
async def test_api_key_login_lands_in_the_active_profile_and_never_leaks(
    cli: Cli, repo: Path
) -> None:
    old = cli.home / "old-auth.json"
    old.write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-old"}))
    assert (await cli("auth", "profiles", "import", "--name", "work", "--from", str(old)))[0] == 0
    old.unlink()
    assert (await cli("auth", "profiles", "use", "work"))[0] == 0

    code, out, err = await cli(
        "config", "set-openai-key", "--api-key-env", "THE_KEY", env={"THE_KEY": CANARY}
    )
    assert code == 0, err
    work_home = cli.home / "profiles" / "work" / "codex-home"
    auth = json.loads((work_home / "auth.json").read_text())
    assert auth["OPENAI_API_KEY"] == CANARY  # written by Codex's own login call

    code, out, err = await cli("config", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["profile"]["name"] == "work"
    assert status["codex_home"] == str(work_home)
    assert status["profile"]["auth_mode"] == "API key"
    # The scripted model is not OpenAI: Codex reports no OpenAI account and needs none.
    assert status["account"]["requires_openai_auth"] is False
    assert status["api_key"]["stored"] is True

    code, out, err = await cli("run", "hello", "--cwd", str(repo), "--json")
    assert code == 0, err
    code, out, _ = await cli("doctor", "--json")
    assert {c["name"]: c["level"] for c in json.loads(out)["checks"]}["auth"] == "ok"

    must_hold_it = {Path("profiles/work/codex-home/auth.json"), Path("secrets/openai-api-key")}
    assert files_containing(cli.home, CANARY) == must_hold_it
    assert files_containing(repo, CANARY) == set()
    assert not any(CANARY in text for text in cli.outputs)

    code, out, err = await cli("config", "clear-openai-key")
    assert code == 0, err
    assert files_containing(cli.home, CANARY) == set()
    code, out, _ = await cli("config", "status", "--json")
    assert json.loads(out)["profile"]["auth_mode"] == "none"


async def test_with_openais_provider_codex_reports_the_api_key_account(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "fresh-home")  # no config: Codex's default provider, OpenAI
    code, _, err = await cli("config", "set-openai-key", "--api-key-stdin", stdin=CANARY + "\n")
    assert code == 0, err
    key_file = cli.home / "secrets" / "openai-api-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert json.loads((cli.home / "codex-home" / "auth.json").read_text())["auth_mode"] == "apikey"
    code, out, err = await cli("config", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["account"]["mode"] == "apiKey"
    assert status["account"]["requires_openai_auth"] is True
    assert status["profile"] == {
        "name": "default",
        "auth_mode": "API key",
        "auth_file_mode": "apikey",
    }
    code, out, _ = await cli("config", "status")
    assert "auth profile  default (API key)" in out
    assert not any(CANARY in text for text in cli.outputs)


# profiles and the team home --------------------------------------------------------------
async def _turn(runtime: AppServerRuntime, repo: Path, prompt: str) -> TurnStatus:
    thread = await runtime.start_thread(ThreadOptions(cwd=repo))
    turn = await runtime.start_turn(thread.id, prompt)
    return (await turn.wait(60)).status


async def test_a_switch_is_refused_while_a_turn_runs_and_applied_when_idle(
    runtime: AppServerRuntime, repo: Path
) -> None:
    home = runtime.config.home
    store = ProfileStore(home)
    store.create("second")
    switcher = ProfileSwitcher(store, runtime)
    thread = await runtime.start_thread(ThreadOptions(cwd=repo))
    turn = await runtime.start_turn(thread.id, "long job")  # runs `sleep 3`

    with pytest.raises(SwitchRefused, match="1 turn"):
        await switcher.switch("second", SwitchMode.NOW)
    pending = await switcher.switch("second", SwitchMode.WHEN_IDLE)
    assert not pending.applied and store.active() == "default"

    assert (await turn.wait(60)).status is TurnStatus.COMPLETED
    await asyncio.wait_for(switcher.wait_pending(), 60)
    second_home = home / "profiles" / "second" / "codex-home"
    assert store.active() == "second"
    assert runtime.config.codex_home == second_home
    assert await _turn(runtime, repo, "hello") is TurnStatus.COMPLETED
    assert list((second_home / "sessions").rglob("*.jsonl"))  # the thread lives in its home

    await switcher.switch("default")
    store.remove("second")
    assert not (home / "profiles" / "second").exists()
    assert (team_home(home) / "skills").is_dir()  # the shared team home survives


async def test_team_instructions_reach_the_model_from_every_profile(
    make_config: ConfigFactory, model: MockModelServer, repo: Path
) -> None:
    config = make_config()
    team = team_home(config.home)
    team.mkdir(parents=True, exist_ok=True)
    (team / "AGENTS.md").write_text(f"Always mention {TEAM_MARKER}.\n")
    store = ProfileStore(config.home)
    store.create("other")
    for name in ("default", "other"):
        store.set_active(name)
        before = len(model.requests)
        async with AppServerRuntime(load_config(config.home)) as runtime:
            assert await _turn(runtime, repo, "hello") is TurnStatus.COMPLETED
        codex_home = store.codex_home(name)
        assert (codex_home / "AGENTS.md").resolve() == (team / "AGENTS.md").resolve()
        assert (codex_home / "skills").resolve() == (team / "skills").resolve()
        sent = [json.dumps(r.body) for r in model.requests[before:]]
        assert sent and all(TEAM_MARKER in body for body in sent), name


# ChatGPT ---------------------------------------------------------------------------------
async def test_browser_login_shows_codexs_url_and_cancels_cleanly(
    make_config: ConfigFactory,
) -> None:
    config: RunnerConfig = make_config()
    prompts: list[LoginPrompt] = []
    cancel = asyncio.Event()

    def show(prompt: LoginPrompt) -> None:
        prompts.append(prompt)
        cancel.set()

    with pytest.raises(LoginCancelled) as caught:
        await login_with_chatgpt(
            config, config.codex_home, device_code=False, on_prompt=show, cancel=cancel
        )
    assert caught.value.status == "canceled"
    assert prompts[0].url.startswith("https://auth.openai.com/oauth/authorize?")
    assert "redirect_uri=http%3A%2F%2F127.0.0.1" in prompts[0].url
    assert not (config.codex_home / "auth.json").exists()


async def test_ctrl_c_cancels_a_cli_browser_login(cli: Cli) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "config",
        "auth-chatgpt",
        "--timeout",
        "60",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli.env(),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(60):
            url = ""
            while not url.startswith("https://"):
                line = await proc.stdout.readline()
                assert line, "the login URL was never shown"
                url = line.decode().strip()
        assert url.startswith("https://auth.openai.com/oauth/authorize?")
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert "ChatGPT login cancelled" in err.decode()
    assert not (cli.home / "codex-home" / "auth.json").exists()


async def test_device_code_login_without_network_ends_with_a_clear_error(cli: Cli) -> None:
    code, _, err = await cli(
        "config",
        "auth-chatgpt",
        "--device-code",
        "--timeout",
        "60",
        env={"CODEX_RUNNER_LOG_LEVEL": "ERROR"},
    )
    assert code == 1
    assert err.startswith("error: ChatGPT device-code login could not start")
    assert "set-openai-key" in err and err.strip().count("\n") == 0


# doctor ----------------------------------------------------------------------------------
def _levels(out: str) -> dict[str, str]:
    levels: dict[str, str] = {}
    for check in json.loads(out)["checks"]:
        if levels.get(check["name"]) != "error":
            levels[check["name"]] = check["level"]
    return levels


async def test_doctor_passes_on_a_working_home(cli: Cli) -> None:
    code, out, _ = await cli("doctor", "--json")
    levels = _levels(out)
    assert code == 0, out
    assert levels["codex binary"] == levels["app-server"] == levels["auth"] == "ok"
    assert levels["git"] == levels["config"] == levels["daemon"] == "ok"


async def test_doctor_reports_a_missing_binary(cli: Cli) -> None:
    code, out, _ = await cli("doctor", env={"CODEX_RUNNER_CODEX_BIN": "/nonexistent/codex"})
    assert code == 1
    assert "error   codex binary: codex binary not found at /nonexistent/codex" in out


async def test_doctor_reports_missing_auth(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "fresh-home")  # default provider: OpenAI, which needs a login
    code, out, _ = await cli("doctor")
    assert code == 1
    assert "error   auth: Codex has no credentials" in out
    assert "fix: run `codex-runner config set-openai-key --api-key-stdin`" in out


async def test_doctor_reports_a_world_readable_secrets_file(cli: Cli) -> None:
    assert (await cli("config", "set-openai-key", "--api-key-stdin", stdin=CANARY))[0] == 0
    key_file = cli.home / "secrets" / "openai-api-key"
    key_file.chmod(0o644)
    code, out, _ = await cli("doctor")
    assert code == 1
    assert f"error   secret files: {key_file} is readable or writable by other users" in out
    assert f"chmod 600 {key_file}" in out
    assert CANARY not in out
