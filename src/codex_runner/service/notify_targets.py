"""Who is told about a notification: the configured webhooks that take its kind, and the
webhooks or URLs the task's own ``notify`` names (docs/notifications.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codex_runner.config.notify import NotifySettings, check_webhook_url
from codex_runner.domain.task_options import InvalidOption

MAX_TASK_TARGETS = 8


@dataclass(frozen=True)
class Target:
    """Where one notification goes. ``webhook`` names the configured webhook (its secret
    signs); None for a URL only a task named (``[notify] task_webhook_secret`` signs)."""

    url: str
    webhook: str | None

    @property
    def key(self) -> str:
        return self.webhook or self.url


class NotifyTargets:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    @property
    def any_configured(self) -> bool:
        """Whether any notification can have a target at all."""
        return bool(self.settings.webhooks) or self.settings.task_webhook_secret is not None

    def check(self, entries: Sequence[str]) -> tuple[str, ...]:
        """A task's ``notify`` list, checked: each a configured webhook's name or URL, or a
        URL when ``[notify] task_webhook_secret`` is set. Raises InvalidOption('notify')."""
        if len(entries) > MAX_TASK_TARGETS:
            raise InvalidOption("notify", f"notify names at most {MAX_TASK_TARGETS} webhooks")
        for entry in entries:
            if self.settings.webhook(entry) is not None:
                continue
            if not entry.startswith(("http://", "https://")):
                names = [w.name for w in self.settings.webhooks if w.name]
                known = (
                    f"the configured names are {', '.join(names)}" if names else "none has a name"
                )
                raise InvalidOption(
                    "notify",
                    f"notify: {entry!r} is neither a webhook's name nor a URL; {known} "
                    "([[notify.webhooks]] name)",
                )
            try:
                check_webhook_url(entry, "notify")
            except ValueError as exc:
                raise InvalidOption("notify", str(exc)) from exc
            if self.settings.task_webhook_secret is None:
                raise InvalidOption(
                    "notify",
                    f"notify: {entry} is not a configured webhook, and this daemon signs no "
                    "other URL: add it to [[notify.webhooks]], or set [notify] "
                    "task_webhook_secret",
                )
        return tuple(dict.fromkeys(entries))

    def for_kind(self, kind: str, task_notify: Sequence[str] = ()) -> list[Target]:
        """The targets of one notification: the webhooks whose ``events`` take ``kind``,
        then those the task named (every kind of its own), each once."""
        found: dict[str, Target] = {}
        for hook in self.settings.webhooks:
            if kind in hook.events:
                found.setdefault(hook.target, Target(hook.url, hook.target))
        for entry in task_notify:
            configured = self.settings.webhook(entry)
            if configured is not None:
                found.setdefault(configured.target, Target(configured.url, configured.target))
            elif self.settings.task_webhook_secret is not None:
                found.setdefault(entry, Target(entry, None))
        return list(found.values())

    def secret(self, webhook: str | None) -> str | None:
        """The secret that signs deliveries of ``webhook`` (None: a task's own URL)."""
        if webhook is None:
            shared = self.settings.task_webhook_secret
            return None if shared is None else shared.get_secret_value()
        hook = self.settings.webhook(webhook)
        return None if hook is None else hook.secret.get_secret_value()
