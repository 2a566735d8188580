"""Parsing what Codex reports about its account."""

from __future__ import annotations

from codex_runner.auth.account import account_from_wire, describe_mode


def test_no_account_is_unauthenticated_and_unusable_when_openai_auth_is_required() -> None:
    info = account_from_wire({"account": None, "requiresOpenaiAuth": True})
    assert (info.mode, info.authenticated, info.usable) == ("none", False, False)
    assert account_from_wire({"account": None, "requiresOpenaiAuth": False}).usable


def test_api_key_and_chatgpt_accounts() -> None:
    assert account_from_wire({"account": {"type": "apiKey"}}).mode == "apiKey"
    chatgpt = account_from_wire(
        {
            "account": {"type": "chatgpt", "email": "a@example.com", "planType": "pro"},
            "requiresOpenaiAuth": True,
        }
    )
    assert (chatgpt.email, chatgpt.plan_type, chatgpt.usable) == ("a@example.com", "pro", True)
    assert describe_mode(chatgpt.mode) == "ChatGPT" and describe_mode("apiKey") == "API key"


def test_rate_limit_windows_are_kept_as_plain_numbers() -> None:
    info = account_from_wire({"account": {"type": "chatgpt", "email": None, "planType": "plus"}})
    info = info.with_rate_limits(
        {
            "rateLimits": {
                "primary": {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 1700000000},
                "secondary": None,
                "rateLimitReachedType": "rate_limit_reached",
            }
        }
    )
    assert [(w.name, w.used_percent, w.window_minutes) for w in info.rate_limits] == [
        ("primary", 42, 300)
    ]
    assert info.limit_reached == "rate_limit_reached"
    assert info.to_dict()["rate_limits"][0]["resets_at"] == 1700000000
    assert info.with_rate_limits("garbage") == info
