"""What the auth profiles service reads of an auth.json (the e-mail and plan, nothing else,
never failing on a damaged file) and why a daemon may offer no profiles."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from codex_runner.config import CodexSettings, RunnerConfig
from codex_runner.service.auth_profiles import (
    ProfileAccount,
    account_of,
    profiles_unavailable_reason,
)


def jwt(claims: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {
                "tokens": {
                    "id_token": jwt(
                        {
                            "email": "a@b.c",
                            "https://api.openai.com/auth": {"chatgpt_plan_type": "pro"},
                        }
                    )
                }
            },
            ProfileAccount("a@b.c", "pro"),
        ),
        ({"tokens": {"id_token": jwt({"email": "a@b.c"})}}, ProfileAccount("a@b.c", None)),
        ({"OPENAI_API_KEY": "sk-x"}, ProfileAccount()),
        ({"tokens": {"id_token": "not-a-jwt"}}, ProfileAccount()),
        ({"tokens": {"id_token": "a.%%%.c"}}, ProfileAccount()),
        ({"tokens": {"id_token": jwt(["a list"])}}, ProfileAccount()),
        ({"tokens": {"id_token": jwt({"email": 7})}}, ProfileAccount()),
        ("[1, 2]", ProfileAccount()),
        ("{broken", ProfileAccount()),
    ],
)
def test_the_account_is_read_from_the_id_token_when_there_is_one(
    tmp_path: Path, content: object, expected: ProfileAccount
) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(content if isinstance(content, str) else json.dumps(content))
    assert account_of(auth) == expected


def test_a_missing_auth_json_has_no_account(tmp_path: Path) -> None:
    assert account_of(tmp_path / "auth.json") == ProfileAccount()


def test_the_reason_names_the_pinned_home_or_the_exec_runtime(tmp_path: Path) -> None:
    pinned = RunnerConfig(home=tmp_path, codex=CodexSettings(home=str(tmp_path / "c")))
    assert "remove codex.home" in profiles_unavailable_reason(pinned)
    execs = RunnerConfig(home=tmp_path, codex=CodexSettings(runtime="exec"))
    assert "codex exec" in profiles_unavailable_reason(execs)
