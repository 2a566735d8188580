"""[notify] settings: webhooks checked with errors that name the fix, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from codex_runner.config import ConfigError, RunnerConfig, load_config
from codex_runner.config.notify import NotifySettings, WebhookSettings
from codex_runner.domain.notify import NOTIFY_KINDS

SECRET = "s3cret-canary-0123456789"


def test_a_webhook_gets_every_kind_by_default_and_its_secret_never_shows() -> None:
    config = RunnerConfig(
        home=Path("/h"), notify={"webhooks": [{"url": "https://example.test/h", "secret": SECRET}]}
    )
    hook = config.notify.webhooks[0]
    assert hook.events == NOTIFY_KINDS
    assert hook.secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    assert SECRET not in config.model_dump_json()


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"url": "ftp://x", "secret": SECRET}, "http:// or https://"),
        ({"url": "https://x", "secret": "short"}, "at least 16"),
        ({"url": "https://x", "secret": SECRET, "events": ["task.done"]}, "'task.done'"),
        ({"url": "https://x", "secret": SECRET, "name": "has space"}, "letters, digits"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_fix(entry: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings.model_validate(entry)
    assert named in str(caught.value)


def test_a_too_short_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[[notify.webhooks]]\nurl = "https://x"\nsecret = "tiny-canary"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert "notify.webhooks.0.secret" in str(caught.value)
    assert "tiny-canary" not in str(caught.value)


def test_two_webhooks_with_one_name_are_refused() -> None:
    hook = {"url": "https://x", "secret": SECRET, "name": "ops"}
    with pytest.raises(ValidationError, match="ops appears twice"):
        NotifySettings.model_validate({"webhooks": [hook, {**hook, "url": "https://y"}]})


def test_a_task_notify_entry_finds_its_webhook_by_name_or_url() -> None:
    settings = NotifySettings.model_validate(
        {"webhooks": [{"url": "https://x/h", "secret": SECRET, "name": "ops"}]}
    )
    assert settings.webhook("ops") is settings.webhooks[0]
    assert settings.webhook("https://x/h") is settings.webhooks[0]
    assert settings.webhook("https://other") is None
