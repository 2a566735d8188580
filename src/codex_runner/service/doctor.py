"""``doctor``: checks that a runner home can run Codex, each with a level and the fix.

Checks never raise: each turns what it found into a :class:`Check`. The CLI only renders,
and hands in the :class:`~codex_runner.service.daemon_link.DaemonLink` the daemon check asks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

from codex_runner.auth.account import describe_mode
from codex_runner.auth.account_session import AccountSession, Launcher
from codex_runner.auth.api_key_store import KEY_FILE
from codex_runner.auth.profile_store import AUTH_FILE, ProfileStore
from codex_runner.codex.binary import codex_version, find_codex_binary
from codex_runner.codex.connection import external_launcher
from codex_runner.codex.errors import CodexError
from codex_runner.config import CodexSettings, ConfigError, RunnerConfig, load_config
from codex_runner.runner_home.api_token import TokenMissing, read_token, token_path
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile, check_private
from codex_runner.runner_home.team_home import link_problems, owns_codex_home
from codex_runner.service.daemon_link import DaemonAnswers, DaemonLink, DaemonUnanswered
from codex_runner.service.doctor_checks import Check, DoctorReport, error, ok, warn
from codex_runner.service.link_check import check_link

MIB = 1024 * 1024
DISK_ERROR_BYTES = 100 * MIB
DISK_WARNING_BYTES = 1024 * MIB


async def run_doctor(
    home: Path,
    *,
    daemon: DaemonLink,
    launcher: Launcher | None = None,
) -> DoctorReport:
    """Run every check against runner home ``home``; ``daemon`` asks a running daemon."""
    checks: list[Check] = []
    config, config_check = _check_config(home)
    checks.append(config_check)
    binary_check, binary_ok = _check_binary(config)
    checks.append(binary_check)
    checks.extend(await _check_app_server_and_auth(config, binary_ok, launcher))
    checks.append(_check_git())
    checks.append(_check_sandbox(config))
    checks.append(_check_state_dir(home))
    checks.extend(_check_secret_files(home))
    checks.append(_check_disk(home))
    checks.append(_check_team_links(home, config))
    daemon_check, answers = await _check_daemon(home, daemon)
    checks.append(daemon_check)
    if config.link.url is not None:
        checks.append(check_link(config, answers.link if answers is not None else None))
    return DoctorReport(tuple(checks))


def _check_config(home: Path) -> tuple[RunnerConfig, Check]:
    try:
        config = load_config(home)
        _ = config.codex_home  # the active-profile file is part of the configuration
    except ConfigError as exc:
        fallback = RunnerConfig(
            home=home.expanduser().resolve(),
            codex=CodexSettings(bin=os.environ.get("CODEX_RUNNER_CODEX_BIN") or None),
        )
        return fallback, error("config", str(exc))
    where = home / "config.toml"
    found = f"{where} is valid" if where.exists() else f"no {where}; defaults apply"
    return config, ok("config", found)


def _check_binary(config: RunnerConfig) -> tuple[Check, bool]:
    try:
        binary = find_codex_binary(config.codex.bin)
    except CodexError as exc:
        return error("codex binary", str(exc)), False
    try:
        version = codex_version(binary)
    except (OSError, subprocess.SubprocessError) as exc:
        return error(
            "codex binary",
            f"{binary} does not run ({exc})",
            "reinstall codex-runner or point CODEX_RUNNER_CODEX_BIN at a working codex",
        ), False
    return ok("codex binary", f"codex {version} at {binary}"), True


async def _check_app_server_and_auth(
    config: RunnerConfig, binary_ok: bool, launcher: Launcher | None
) -> list[Check]:
    if not binary_ok and launcher is None:
        reason = "not started: no working codex binary (see above)"
        return [error("app-server", reason), error("auth", reason)]
    try:
        codex_home = config.codex_home
    except ConfigError as exc:
        return [error("app-server", f"not started: {exc}"), error("auth", str(exc))]
    external = config.codex.url if launcher is None else None
    if external:  # [codex] url: check the app-server the daemon will use, start none
        launcher = external_launcher(config)
    try:
        async with AccountSession(config, codex_home, launcher=launcher) as session:
            where = f"at {external}" if external else f"(Codex home {codex_home})"
            started = ok("app-server", f"codex app-server {where} answered initialize")
            account = await session.account()
    except (CodexError, ConfigError, OSError) as exc:
        fix = (
            f"start it (`codex app-server --listen {external}`) or fix [codex] url"
            if external
            else "run `codex app-server` by hand to see its error, or reinstall codex-runner"
        )
        return [
            error("app-server", f"codex app-server did not start or answer: {exc}", fix),
            error("auth", "not checked: the app-server did not answer"),
        ]
    if account.authenticated:
        who = f" as {account.email}" if account.email else ""
        plan = f" (plan {account.plan_type})" if account.plan_type else ""
        return [started, ok("auth", f"{describe_mode(account.mode)}{who}{plan}")]
    if not account.requires_openai_auth:
        return [started, ok("auth", "the configured model provider needs no OpenAI login")]
    return [
        started,
        error(
            "auth",
            f"Codex has no credentials in {codex_home}",
            "run `codex-runner config set-openai-key --api-key-stdin`, "
            "`codex-runner config auth-chatgpt`, or `codex-runner auth profiles use NAME`",
        ),
    ]


def _check_git() -> Check:
    git = shutil.which("git")
    if git is None:
        return error("git", "git is not on PATH", "install git (e.g. apt install git)")
    try:
        out = subprocess.run(
            [git, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return error("git", f"{git} does not run ({exc})", "reinstall git")
    return ok("git", f"{out} at {git}")


def bundled_bwrap(binary: Path) -> Path | None:
    """The bubblewrap the Codex wheel ships beside its binary, when it does."""
    candidate = binary.resolve().parent.parent / "codex-resources" / "bwrap"
    return candidate if candidate.is_file() else None


def _check_sandbox(config: RunnerConfig) -> Check:
    if not sys.platform.startswith("linux"):
        return ok("sandbox", f"{sys.platform}: Codex uses the platform's own sandbox")
    system = shutil.which("bwrap")
    if system is not None:
        return ok("sandbox", f"bubblewrap at {system}")
    install = "install bubblewrap with your OS package manager (e.g. apt install bubblewrap)"
    try:
        bundled = bundled_bwrap(find_codex_binary(config.codex.bin))
    except CodexError:
        bundled = None
    if bundled is not None:
        return warn("sandbox", f"no bubblewrap on PATH; Codex uses its bundled {bundled}", install)
    if config.codex.sandbox == "danger-full-access":
        return warn("sandbox", "no bubblewrap; the sandbox is off (danger-full-access)", install)
    return error("sandbox", "no bubblewrap on PATH and none bundled with Codex", install)


def _check_state_dir(home: Path) -> Check:
    if not home.exists():
        return ok("state directory", f"{home} does not exist yet; it is created on first use")
    if not home.is_dir():
        return error("state directory", f"{home} is not a directory", f"remove {home}")
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o002:
        return error(
            "state directory",
            f"{home} is writable by every user (mode {mode:o})",
            f"chmod 700 {home}",
        )
    probe = home / f".doctor-{uuid.uuid4().hex}"
    try:
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        return error(
            "state directory",
            f"{home} is not writable ({exc.strerror})",
            f"make {home} writable by this user, or set CODEX_RUNNER_HOME elsewhere",
        )
    if mode & 0o077:
        return warn(
            "state directory",
            f"{home} is writable; others can list it (mode {mode:o})",
            f"chmod 700 {home}",
        )
    return ok("state directory", f"{home} is writable and private (mode {mode:o})")


def _secret_files(home: Path) -> list[Path]:
    files = [token_path(home), home / KEY_FILE]
    store = ProfileStore(home)
    files.extend(store.codex_home(name) / AUTH_FILE for name in store.names())
    if _holds_slack_tokens(home / "config.toml"):
        files.append(home / "config.toml")
    return [path for path in files if path.exists()]


def _holds_slack_tokens(config_file: Path) -> bool:
    """config.toml carries ``[slack] app_token``/``bot_token``: a secret file then."""
    try:
        slack = tomllib.loads(config_file.read_text(encoding="utf-8")).get("slack")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # missing, or reported by the config check
    return isinstance(slack, dict) and any(slack.get(k) for k in ("app_token", "bot_token"))


def _check_secret_files(home: Path) -> list[Check]:
    problems: list[Check] = []
    for path in _secret_files(home):
        try:
            check_private(path)
        except UnsafeSecretFile as exc:
            problems.append(error("secret files", str(exc)))
    if not problems:
        problems.append(
            ok("secret files", "API token, API key, auth.json and Slack token files are 0600")
        )
    return problems


def _check_disk(home: Path) -> Check:
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    text = f"{free / MIB / 1024:.1f} GiB free at {existing}"
    fix = "free disk space; worktrees, Codex sessions and the event log grow with use"
    if free < DISK_ERROR_BYTES:
        return error("disk space", text, fix)
    if free < DISK_WARNING_BYTES:
        return warn("disk space", text, fix)
    return ok("disk space", text)


def _check_team_links(home: Path, config: RunnerConfig) -> Check:
    store = ProfileStore(home)
    problems: list[str] = []
    for name in store.names():
        codex_home = store.codex_home(name)
        if codex_home.is_dir() and owns_codex_home(home, codex_home):
            problems.extend(str(p) for p in link_problems(home, codex_home, config.auth.team_home))
    if problems:
        return warn("team home", "; ".join(problems), "see each entry's fix above")
    return ok("team home", "every profile links to the team home's shared entries")


async def _check_daemon(home: Path, daemon: DaemonLink) -> tuple[Check, DaemonAnswers | None]:
    info = running_daemon(home)
    if info is None:
        return ok("daemon", "not running (start it with `codex-runner serve`)"), None
    try:
        token = read_token(home)
    except (TokenMissing, UnsafeSecretFile) as exc:
        return error("daemon", f"running at {info.url}, but: {exc}"), None
    try:
        # The link's client is synchronous; a thread keeps this loop free while it waits.
        answers = await asyncio.to_thread(daemon.answers, info.url, token)
    except DaemonUnanswered as exc:
        return error(
            "daemon",
            f"pid {info.pid} at {info.url} does not answer ({exc})",
            "restart it: stop the process and run `codex-runner serve`",
        ), None
    if answers.healthz != 200:
        return error("daemon", f"{info.url}/healthz answered {answers.healthz}"), answers
    if answers.status in (401, 403):
        return error(
            "daemon",
            f"{info.url} rejected the token in {token_path(home)}",
            "restart the daemon so it reads the current token, or check CODEX_RUNNER_HOME",
        ), answers
    if answers.status != 200:
        return error("daemon", f"{info.url}/v1/status answered {answers.status}"), answers
    return ok("daemon", f"running at {info.url} (pid {info.pid}); the token is accepted"), answers
