"""[store]: SQLite in the home by default, a PostgreSQL URL from the file or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.config import ConfigError, load_config


def test_the_store_is_sqlite_in_the_home_unless_a_postgresql_url_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEX_RUNNER_DATABASE_URL", raising=False)
    assert load_config(tmp_path).store_target == tmp_path.resolve() / "runner.sqlite"
    url = "postgresql+psycopg://runner@db/runner"
    monkeypatch.setenv("CODEX_RUNNER_DATABASE_URL", url)
    assert load_config(tmp_path).store_target == url
    monkeypatch.delenv("CODEX_RUNNER_DATABASE_URL")
    (tmp_path / "config.toml").write_text('[store]\nurl = "mysql://runner:pw@db/x"\n')
    with pytest.raises(ConfigError, match=r"store\.url is a PostgreSQL URL") as caught:
        load_config(tmp_path)
    assert "pw@" not in str(caught.value)


def test_event_retention_is_off_by_default_and_must_be_positive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEX_RUNNER_DATABASE_URL", raising=False)
    assert load_config(tmp_path).store.event_retention_s is None
    (tmp_path / "config.toml").write_text("[store]\nevent_retention_s = 2592000\n")
    assert load_config(tmp_path).store.event_retention_s == 2592000
    (tmp_path / "config.toml").write_text("[store]\nevent_retention_s = 0\n")
    with pytest.raises(ConfigError, match="event_retention_s"):
        load_config(tmp_path)
