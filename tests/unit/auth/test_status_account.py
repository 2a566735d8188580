"""``config status`` never shows an API key and "not logged in" together."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from codex_runner.auth.account import AccountInfo
from codex_runner.auth.status import RunnerStatus

BASE = RunnerStatus(
    home=Path("/h"),
    config_file=Path("/h/config.toml"),
    config_file_exists=True,
    codex_home=Path("/h/codex-home"),
    team_home=Path("/h/team-codex-home"),
    codex_binary="/bin/codex",
    codex_version="0.163.0",
    profile="default",
    profile_auth_mode="none",
    account=AccountInfo("none", requires_openai_auth=True),
    problems=(),
    api_key_store="runner home (secrets/openai-api-key)",
    api_key_stored=False,
    daemon_url=None,
)
OTHER_PROVIDER = AccountInfo("none", requires_openai_auth=False)


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({}, "not logged in"),
        ({"account": OTHER_PROVIDER}, "not logged in (the model provider needs no OpenAI login)"),
        ({"api_key_stored": True}, "authenticates with the API key (no ChatGPT login)"),
        (
            {"account": OTHER_PROVIDER, "profile_auth_mode": "apikey", "api_key_stored": True},
            "authenticates with the API key (no ChatGPT login; the model provider needs none)",
        ),
        ({"account": AccountInfo("apiKey", requires_openai_auth=True)}, "API key"),
        (
            {"account": AccountInfo("chatgpt", True, email="a@example.com", plan_type="plus")},
            "a@example.com, plan plus",
        ),
        ({"account": None}, None),
    ],
)
def test_the_account_line_says_how_codex_signs_in(
    changes: dict[str, object], summary: str | None
) -> None:
    assert replace(BASE, **changes).account_summary() == summary  # type: ignore[arg-type]
