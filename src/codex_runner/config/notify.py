"""Notifications (``[notify]`` and ``[[notify.webhooks]]``; docs/notifications.md).

A webhook's secret is a :class:`~pydantic.SecretStr`: its repr, the config's dump and every
error show ``**********``, never the value.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator

from codex_runner.config.base import Strict as _Strict
from codex_runner.domain.notify import NOTIFY_KINDS

WEBHOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SECRET_MIN = 16


def check_webhook_url(url: str, key: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ValueError(f"{key} is an http:// or https:// URL (at most 2000 characters)")
    return url


class WebhookSettings(_Strict):
    """One ``[[notify.webhooks]]`` entry."""

    url: str = Field(description="Where notifications are POSTed (http:// or https://).")
    secret: SecretStr = Field(
        description=f"Signs each delivery (HMAC-SHA256); at least {SECRET_MIN} characters."
    )
    events: tuple[str, ...] = Field(
        default=NOTIFY_KINDS, description="The kinds this webhook gets; default: all."
    )
    name: str | None = Field(
        default=None, description="A name a task's `notify` may use instead of the URL."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value, "notify.webhooks.url")

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < SECRET_MIN:
            raise ValueError(
                f"notify.webhooks.secret has at least {SECRET_MIN} characters: make one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [kind for kind in value if kind not in NOTIFY_KINDS]
        if unknown:
            raise ValueError(
                f"notify.webhooks.events: {', '.join(map(repr, unknown))} is not a kind; the "
                f"kinds are {', '.join(NOTIFY_KINDS)} (omit events for all)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not WEBHOOK_NAME.fullmatch(value):
            raise ValueError(
                f"notify.webhooks.name {value!r} is letters, digits, '_', '.', '-' (at most 64)"
            )
        return value

    @property
    def target(self) -> str:
        """How outbox rows name this webhook: its name, else its URL."""
        return self.name or self.url


class NotifySettings(_Strict):
    """``[notify]``: webhooks, the Slack channel for finished tasks, delivery limits."""

    webhooks: tuple[WebhookSettings, ...] = ()
    slack_channel: str | None = Field(
        default=None,
        description="A Slack channel id where completions and failures of tasks that did not "
        "come from Slack are posted (needs [slack]).",
    )
    task_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signs deliveries to URLs a task's `notify` names that are not configured "
        "webhooks; without it such URLs are refused at submit.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="One attempt's limit.")
    max_concurrent: int = Field(default=4, ge=1, le=64, description="Deliveries at once.")
    retry_for_s: float = Field(
        default=24 * 3600.0, gt=0, description="A delivery is given up after this long."
    )
    backoff_base_s: float = Field(default=2.0, gt=0, description="The first retry's wait.")
    backoff_cap_s: float = Field(default=600.0, gt=0, description="The longest wait.")
    keep_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Delivered and given-up notifications are removed this long after.",
    )
    poll_s: float = Field(
        default=2.0, gt=0, le=60, description="How often the outbox is looked at when idle."
    )

    @model_validator(mode="after")
    def _distinct_names(self) -> NotifySettings:
        targets = [w.target for w in self.webhooks]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(
                f"notify.webhooks: {', '.join(twice)} appears twice; give each a distinct name"
            )
        return self

    def webhook(self, target: str) -> WebhookSettings | None:
        """The configured webhook a task's ``notify`` entry (a name or a URL) means."""
        for hook in self.webhooks:
            if target in (hook.name, hook.url):
                return hook
        return None
