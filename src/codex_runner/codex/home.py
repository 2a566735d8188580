"""The Codex home the runner owns: its config.toml and the child's environment.

The runner never shares ``~/.codex`` with people: several Codex processes on one home
contend on its SQLite files and token refresh, and ``thread/start`` may mark projects
trusted in config.toml. The runner writes the active auth profile's Codex home (by default
``$CODEX_RUNNER_HOME/codex-home``): its config.toml from headless defaults, the team home's
additions and the user's ``[codex.config]`` table, and links to the team home's shared
entries (see :mod:`codex_runner.runner_home.team_home`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import tomli_w

from codex_runner.config import HEADLESS_DISABLED_FEATURES, RunnerConfig
from codex_runner.runner_home.team_home import link_team_home, owns_codex_home, team_config

log = logging.getLogger(__name__)

# Environment passed to Codex; everything else (the runner's own secrets, CI tokens) stays out.
BASE_ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_API_KEY",
)


def headless_defaults() -> dict[str, Any]:
    return {
        "analytics": {"enabled": False},
        "features": {name: False for name in HEADLESS_DISABLED_FEATURES},
        "check_for_update_on_startup": False,
        # Unload a thread as soon as its last subscriber leaves: the runner unsubscribes
        # when a turn ends and resumes the thread for the next one (see release_thread).
        "thread_unload_delay_secs": 0,
    }


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value in ``extra`` wins."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def codex_config(config: RunnerConfig) -> dict[str, Any]:
    """Headless defaults, then the team home's additions, then the runner's [codex.config]."""
    base = headless_defaults() if config.codex.headless_defaults else {}
    team = team_config(config.home, config.auth.team_home)
    return deep_merge(deep_merge(base, team), config.codex.config)


def prepare_codex_home(config: RunnerConfig) -> Path:
    """Create the Codex home, link it to the team home and (re)write its config.toml."""
    home = config.codex_home
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if owns_codex_home(config.home, home):
        for problem in link_team_home(config.home, home, config.auth.team_home):
            log.warning("team home not linked: %s", problem)
    path = home / "config.toml"
    text = tomli_w.dumps(codex_config(config))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return home


def provider_env_keys(codex_cfg: dict[str, Any]) -> list[str]:
    """Env vars named by ``model_providers.*.env_key``: Codex reads the API key from them."""
    providers = codex_cfg.get("model_providers") or {}
    keys = []
    for provider in providers.values():
        if isinstance(provider, dict) and isinstance(provider.get("env_key"), str):
            keys.append(provider["env_key"])
    return keys


def child_environment(config: RunnerConfig, extra_path: Path | None = None) -> dict[str, str]:
    allowed = set(BASE_ENV_ALLOWLIST)
    allowed.update(config.codex.env_allowlist)
    allowed.update(provider_env_keys(codex_config(config)))
    env = {k: v for k, v in os.environ.items() if k in allowed}
    env["CODEX_HOME"] = str(config.codex_home)
    # Codex gives each command a socket for stdin, and bash takes a top-level shell
    # (SHLVL unset) with a socket stdin for a remote shell: it then sources ~/.bashrc before
    # every command (a pyenv or nvm set-up there costs ~200 ms of CPU per command). A
    # nested-shell level keeps `bash -c` what Codex asked for: no startup files.
    env["SHLVL"] = "1"
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if extra_path is not None:
        env["PATH"] = f"{env['PATH']}{os.pathsep}{extra_path}"
    return env
