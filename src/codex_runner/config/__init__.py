"""Runner configuration: where state lives and how Codex is run.

Everything lives under ``CODEX_RUNNER_HOME`` (default ``~/.codex-runner``). An optional
``$CODEX_RUNNER_HOME/config.toml`` overrides defaults; environment variables override the file
for the few values people change per invocation (``CODEX_RUNNER_CODEX_BIN``).

Bad configuration fails at load time with a :class:`ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from codex_runner.config.auth import AuthSettings as AuthSettings
from codex_runner.config.base import ConfigError as ConfigError
from codex_runner.config.base import Strict as _Strict
from codex_runner.config.disk import DiskSettings as DiskSettings
from codex_runner.config.jobs import JobSettings as JobSettings
from codex_runner.config.notify import NotifySettings as NotifySettings
from codex_runner.config.operations import ClusterSettings as ClusterSettings
from codex_runner.config.operations import LogSettings as LogSettings
from codex_runner.config.operations import MetricsSettings as MetricsSettings
from codex_runner.config.operations import StoreSettings as StoreSettings
from codex_runner.config.releases import ReleaseSettings as ReleaseSettings
from codex_runner.domain.exec_flags import ExecFlagRefused, check_exec_extra_args
from codex_runner.domain.model_names import check_model_aliases
from codex_runner.domain.task import REASONING_EFFORTS

RuntimeKind = Literal["app-server", "exec"]
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
ApprovalPolicy = Literal["untrusted", "on-request", "never"]

# Features with a per-thread start-up cost or that reach for the network, switched off for
# server use. CODEX_NOTES measured 4.4 -> 14.3 turns/s at 100 sessions with these off.
# Each stays overridable through [codex.config.features] in the runner's config.toml.
HEADLESS_DISABLED_FEATURES: tuple[str, ...] = (
    "shell_snapshot",  # snapshots the login shell per thread: the largest start-up cost
    "plugins",
    "apps",  # connectors
    "hooks",
    "skill_search",
    "remote_plugin",
    "tool_suggest",
    "in_app_updates",
    "prevent_idle_sleep",
)


class ExecSettings(_Strict):
    """The ``codex exec`` runtime (``[codex.exec]``)."""

    extra_args: tuple[str, ...] = Field(
        default=(),
        description="Flags appended to every `codex exec` (and `exec resume`), from an "
        "allow-list: --skip-git-repo-check, --strict-config, --enable/--disable FEATURE, "
        "-c KEY=VALUE except the sandbox and approval keys.",
    )

    @field_validator("extra_args")
    @classmethod
    def _allowed_flags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return check_exec_extra_args(value)
        except ExecFlagRefused as exc:
            raise ValueError(str(exc)) from None


class CodexSettings(_Strict):
    bin: str | None = Field(
        default=None, description="Path of the codex binary; default: the pinned PyPI wheel."
    )
    home: str | None = Field(
        default=None, description="Codex home owned by the runner; default $HOME/codex-home."
    )
    runtime: RuntimeKind = "app-server"
    sandbox: SandboxMode = "workspace-write"
    approval_policy: ApprovalPolicy = "never"
    model: str | None = None
    effort: str | None = None
    headless_defaults: bool = Field(
        default=True,
        description="Turn off apps, plugins, MCP start-up, analytics and costly features.",
    )
    request_timeout_s: float = Field(default=60.0, gt=0)
    turn_idle_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="A turn with no event from Codex for this long is reconciled and ended.",
    )
    start_timeout_s: float = Field(default=30.0, gt=0)
    shutdown_grace_s: float = Field(default=3.0, ge=0)
    max_restarts: int = Field(default=5, ge=0, description="Restarts within restart_window_s.")
    restart_window_s: float = Field(default=60.0, gt=0)
    overload_retries: int = Field(default=5, ge=0)
    max_line_bytes: int = Field(default=32 * 1024 * 1024, gt=1024)
    env_allowlist: tuple[str, ...] = Field(
        default=(),
        description="Extra environment variables passed to Codex besides the built-in list.",
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="Keys of Codex's own config.toml, merged into it."
    )
    listen: Literal["socket", "stdio"] = Field(
        default="socket",
        description="How the runner talks to its own app-server: on a Unix socket that humans "
        "and tools can attach to (`task attach`), or privately on stdio.",
    )
    url: str | None = Field(
        default=None,
        description="Use an app-server something else started (ws://HOST:PORT or "
        "unix:///PATH) instead of spawning one; the runner reconnects when it goes away.",
    )
    url_token_env: str | None = Field(
        default=None,
        description="Environment variable holding the bearer token of a ws:// url.",
    )
    exec: ExecSettings = ExecSettings()
    task_config_keys: tuple[str, ...] = Field(
        default=(),
        description="Codex config keys a task's `config` may set beyond the safe list "
        "(docs/programs.md), such as mcp_servers; the sandbox and approval escape hatches "
        "are refused unless named here.",
    )
    models: dict[str, str] = Field(
        default_factory=dict,
        description='Model aliases (fast = "gpt-5-codex-mini"), usable wherever a model is '
        "named; tasks store the model an alias stands for.",
    )

    @field_validator("models")
    @classmethod
    def _aliases(cls, value: dict[str, str]) -> dict[str, str]:
        return check_model_aliases(value)

    @model_validator(mode="before")
    @classmethod
    def _resolved_model(cls, data: Any) -> Any:
        # The default model may be an alias too; Codex is only ever told real names. (The
        # map itself is checked after this: an alias of an alias is refused there.)
        if isinstance(data, dict) and isinstance(data.get("models"), dict):
            model = data.get("model")
            if isinstance(model, str) and model in data["models"]:
                return {**data, "model": data["models"][model]}
        return data

    @field_validator("url")
    @classmethod
    def _app_server_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://", "unix:///")):
            raise ValueError(
                f"{value!r} is not an app-server address; use ws://HOST:PORT or unix:///PATH"
            )
        return value

    @field_validator("effort")
    @classmethod
    def _known_effort(cls, value: str | None) -> str | None:
        # The same list a task's effort is checked against: a typo here would otherwise
        # reach Codex on every turn.
        if value is not None and value not in REASONING_EFFORTS:
            raise ValueError(f"effort must be one of {', '.join(REASONING_EFFORTS)}")
        return value


class ServiceSettings(_Strict):
    """The task service and its daemon (``[service]`` in config.toml)."""

    host: str = Field(default="127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(default=8765, ge=0, le=65535)
    max_concurrent_tasks: int = Field(default=8, ge=1, le=1000)
    approval_timeout_s: float = Field(
        default=3600.0, gt=0, description="An undecided approval is answered after this long."
    )
    approval_timeout_decision: Literal["decline", "cancel"] = Field(
        default="decline",
        description="What an expired approval answers (decline falls back to cancel when "
        "Codex does not offer decline).",
    )
    commit_on_complete: bool = Field(
        default=True, description="Commit a completed task's worktree changes to its branch."
    )
    worktree_retention_s: float = Field(
        default=7 * 24 * 3600.0, ge=0, description="gc removes finished worktrees older than this."
    )
    auto_resume: bool = Field(
        default=False, description="Re-queue tasks that a restart reconciled to interrupted."
    )
    warm_threads: int = Field(
        default=64,
        ge=0,
        le=10_000,
        description="Threads kept loaded in Codex after their turn, so a follow-up skips "
        "thread/resume (0 releases each as its turn ends).",
    )
    warm_thread_idle_s: float = Field(
        default=300.0, ge=0, description="A warm thread unused this long is released."
    )
    rpc_log: bool = Field(default=False, description="Log raw Codex JSON-RPC (secrets redacted).")
    rpc_log_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    store_busy_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a write waits for another process's lock on the store; past "
        "it the API answers 503 with Retry-After.",
    )
    home_check_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="How often the daemon checks that its home is still there and writable.",
    )


class SlackSettings(_Strict):
    """The Slack bridge (``[slack]``); tokens may also come from SLACK_APP_TOKEN/SLACK_BOT_TOKEN."""

    app_token: str | None = None
    bot_token: str | None = None
    api_url: str | None = Field(default=None, description="Web API base URL; default Slack's.")
    allowed_users: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    approvers: tuple[str, ...] = Field(
        default=(), description="Who may decide approvals; empty: the thread's requester."
    )
    backfill_messages: int = Field(default=20, ge=0, le=200)
    delivery_retry_base_s: float = Field(
        default=1.0, gt=0, description="First retry delay of a post Slack did not take."
    )
    delivery_retry_max_s: float = Field(
        default=60.0, gt=0, description="Longest delay between retries while Slack is down."
    )


class LinkSettings(_Strict):
    """The chat server link (``[link]``): this runner as a local runner of a chat server.

    The token comes from CODEX_RUNNER_LINK_TOKEN or ``token_file`` (mode 0600), never from
    this file.
    """

    url: str | None = Field(
        default=None, description="The chat server's socket, e.g. wss://chat.example/socket."
    )
    runner_id: str | None = Field(default=None, description="This runner's id on the server.")
    cwd: str | None = Field(default=None, description="Where turns started from chat run.")
    channel: str | None = Field(
        default=None, description="WORKSPACE/CHANNEL whose chat threads are sessions here."
    )
    heartbeat_s: float = Field(default=15.0, gt=0, le=3600)
    token_file: str | None = Field(default=None, description="A 0600 file holding the token.")

    @field_validator("url")
    @classmethod
    def _socket_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"{value!r} is not a WebSocket URL; write wss://HOST/socket")
        return value

    @field_validator("runner_id")
    @classmethod
    def _runner_id(cls, value: str | None) -> str | None:
        if value is not None and not RUNNER_ID.fullmatch(value):
            raise ValueError("runner_id is 1-128 letters, digits, '.', '_', ':' or '-'")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError(f"{value!r} is not WORKSPACE/CHANNEL")
        return value


RUNNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class McpSettings(_Strict):
    """The MCP server (``[mcp]``; docs/mcp.md): what ``submit_task`` uses when the caller
    leaves it out, so an agent can submit a prompt alone. Over stdio (``codex-runner mcp``)
    the settings of that command's home count, at ``/mcp`` the daemon's."""

    repo: str | None = Field(
        default=None, description="Absolute path of the git repository tasks run in."
    )
    cwd: str | None = Field(
        default=None, description="Absolute path of a directory tasks run in (no worktree)."
    )
    model: str | None = Field(default=None, description="The model of a task that names none.")

    @model_validator(mode="after")
    def _one_workspace(self) -> McpSettings:
        if self.repo is not None and self.cwd is not None:
            raise ValueError("set one of repo and cwd: a task runs in a repository or a directory")
        return self


class RunnerConfig(_Strict):
    home: Path
    logs: LogSettings = LogSettings()
    store: StoreSettings = StoreSettings()
    cluster: ClusterSettings = ClusterSettings()
    codex: CodexSettings = CodexSettings()
    service: ServiceSettings = ServiceSettings()
    slack: SlackSettings = SlackSettings()
    link: LinkSettings = LinkSettings()
    auth: AuthSettings = AuthSettings()
    mcp: McpSettings = McpSettings()
    metrics: MetricsSettings = MetricsSettings()
    notify: NotifySettings = NotifySettings()
    disk: DiskSettings = DiskSettings()
    jobs: JobSettings = JobSettings()
    releases: ReleaseSettings = ReleaseSettings()

    @property
    def uses_profiles(self) -> bool:
        """Auth profiles (switching, failover) apply unless ``codex.home`` pins one Codex home
        or ``codex.url`` names an app-server that runs on its own home."""
        return not self.codex.home and not self.codex.url

    @property
    def codex_home(self) -> Path:
        """``codex.home`` when set, else the active auth profile's Codex home.

        Read at each use, so a runtime that (re)starts picks up a profile switch.
        """
        if self.codex.home:
            return Path(self.codex.home)
        return profile_codex_home(self.home, active_profile(self.home))

    @property
    def pids_dir(self) -> Path:
        return self.home / "run"

    @property
    def store_target(self) -> str | Path:
        """What the store opens: ``[store] url``, else the SQLite file in the home."""
        return self.store.url or self.home / "runner.sqlite"


# Auth profiles: each profile is its own Codex home (its own auth.json and token refresh
# state). With no profile created, the implicit "default" profile is today's codex-home.
DEFAULT_PROFILE = "default"
# Profile names become directory names: no separators, no leading dot.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def profile_codex_home(home: Path, name: str) -> Path:
    """The Codex home of auth profile ``name`` under runner home ``home``."""
    if name == DEFAULT_PROFILE:
        return home / "codex-home"
    return home / "profiles" / name / "codex-home"


def active_profile_path(home: Path) -> Path:
    return home / "profiles" / "active"


def active_profile(home: Path) -> str:
    """The active profile's name (``profiles/active``), ``default`` when none was chosen."""
    try:
        name = active_profile_path(home).read_text(encoding="utf-8").strip()
    except OSError:
        return DEFAULT_PROFILE
    if not name:
        return DEFAULT_PROFILE
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            f"{active_profile_path(home)} names {name!r}, which is not a profile name; "
            "run: codex-runner auth profiles use NAME"
        )
    return name


def default_home() -> Path:
    raw = os.environ.get("CODEX_RUNNER_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".codex-runner"


def load_config(
    home: Path | None = None,
    overrides: dict[str, Any] | None = None,
    service_overrides: dict[str, Any] | None = None,
) -> RunnerConfig:
    """Read ``config.toml`` under the runner home, apply env and explicit overrides.

    ``overrides`` are ``[codex]`` keys, ``service_overrides`` ``[service]`` keys (from flags).
    """
    home = (home or default_home()).expanduser().resolve()
    raw: dict[str, Any] = {}
    path = home / "config.toml"
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax.") from exc
    codex_raw = dict(raw.get("codex") or {})
    if env_bin := os.environ.get("CODEX_RUNNER_CODEX_BIN"):
        codex_raw["bin"] = env_bin
    for key, value in (overrides or {}).items():
        if value is not None:
            codex_raw[key] = value
    raw["codex"] = codex_raw
    service_raw = dict(raw.get("service") or {})
    service_raw.update({k: v for k, v in (service_overrides or {}).items() if v is not None})
    raw["service"] = service_raw
    if env_url := os.environ.get("CODEX_RUNNER_DATABASE_URL"):
        raw["store"] = {**(raw.get("store") or {}), "url": env_url}
    raw["home"] = home
    try:
        return RunnerConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from None


def _explain(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}': remove it or check its spelling")
        else:
            lines.append(f"'{key}': {err['msg']}")
    return f"invalid configuration in {path}: " + "; ".join(lines)
