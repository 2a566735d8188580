"""The bridge's settings: ``[slack]`` in config.toml, overridden by SLACK_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codex_runner.config import RunnerConfig

DEFAULT_API_URL = "https://slack.com/api/"

# Scopes the bot token needs, and what each one is for (printed by `slack check`).
BOT_SCOPES: Mapping[str, str] = {
    "app_mentions:read": "see mentions of the bot",
    "channels:history": "read replies in public channel threads",
    "groups:history": "read replies in private channel threads",
    "im:history": "read direct messages",
    "chat:write": "post replies and approval buttons",
    "reactions:write": "mark queued messages with a reaction",
    "users:read": "show display names instead of user ids",
    "files:read": "pass image attachments to Codex",
    "files:write": "let the agent post files into its thread",
}
# Scopes without which the bridge cannot work at all; the others degrade one feature.
ESSENTIAL_SCOPES: frozenset[str] = frozenset({"app_mentions:read", "chat:write"})


@dataclass(frozen=True)
class BridgeSettings:
    """Everything the bridge needs, resolved from the configuration and the environment."""

    app_token: str
    bot_token: str
    api_url: str
    allowed_users: frozenset[str]
    allowed_channels: frozenset[str]
    approvers: frozenset[str]
    backfill_messages: int
    retry_base_s: float
    retry_max_s: float
    home: Path

    @property
    def db_path(self) -> Path:
        return self.home / "slack.sqlite"

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"


def api_base_url(raw: str | None) -> str:
    """A Web API base URL ending in a slash, as slack_sdk expects."""
    url = raw or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def resolve(
    config: RunnerConfig, environ: Mapping[str, str] | None = None
) -> BridgeSettings | None:
    """The bridge's settings, or None when either token is missing (the bridge is off)."""
    env = os.environ if environ is None else environ
    slack = config.slack
    app_token = env.get("SLACK_APP_TOKEN") or slack.app_token
    bot_token = env.get("SLACK_BOT_TOKEN") or slack.bot_token
    if not app_token or not bot_token:
        return None
    return BridgeSettings(
        app_token=app_token,
        bot_token=bot_token,
        api_url=api_base_url(env.get("SLACK_API_URL") or slack.api_url),
        allowed_users=frozenset(slack.allowed_users),
        allowed_channels=frozenset(slack.allowed_channels),
        approvers=frozenset(slack.approvers),
        backfill_messages=slack.backfill_messages,
        retry_base_s=slack.delivery_retry_base_s,
        retry_max_s=slack.delivery_retry_max_s,
        home=config.home,
    )
