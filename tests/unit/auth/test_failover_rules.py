"""Failover decisions: which errors qualify and which profile comes next."""

from __future__ import annotations

import pytest

from codex_runner.auth.failover_rules import (
    decide_failover,
    failover_candidates,
    is_quota_error,
    next_profile,
)
from codex_runner.config import AuthSettings
from codex_runner.domain.events import ErrorInfo, FailureClass

ON = AuthSettings(failover=True)
QUOTA = ErrorInfo("You've hit your usage limit.", FailureClass.USAGE_LIMIT)
PROFILES = ["default", "a", "b"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (QUOTA, True),
        (ErrorInfo("insufficient_quota", FailureClass.MODEL_ERROR), True),
        (ErrorInfo("429 Too Many Requests", FailureClass.MODEL_ERROR), True),
        (ErrorInfo("usage limit", FailureClass.USAGE_LIMIT, will_retry=True), False),
        (ErrorInfo("bad request", FailureClass.MODEL_ERROR), False),
        (ErrorInfo("quota", FailureClass.UNAUTHORIZED), False),
        (ErrorInfo("stream cut", FailureClass.MODEL_STREAM_DISCONNECTED), False),
        (None, False),
    ],
)
def test_only_final_usage_limit_errors_qualify(error: ErrorInfo | None, expected: bool) -> None:
    assert is_quota_error(error) is expected


def test_failover_is_off_by_default() -> None:
    assert AuthSettings().failover is False
    assert decide_failover(AuthSettings(), QUOTA, "default", PROFILES) is None


def test_the_next_profile_follows_the_current_one_and_wraps() -> None:
    assert next_profile("a", PROFILES, ()) == "b"
    assert next_profile("b", PROFILES, ()) == "default"
    assert next_profile("gone", PROFILES, ()) == "default"


def test_a_turn_visits_each_profile_once() -> None:
    assert next_profile("a", PROFILES, {"a", "b"}) == "default"
    assert next_profile("a", PROFILES, {"a", "b", "default"}) is None
    assert next_profile("a", ["a"], ()) is None
    assert next_profile("a", [], ()) is None


def test_allowed_profiles_keep_their_order_and_skip_missing_ones() -> None:
    settings = AuthSettings(failover=True, failover_profiles=("b", "ghost", "default"))
    assert failover_candidates(settings, PROFILES) == ["b", "default"]
    decision = decide_failover(settings, QUOTA, "b", PROFILES, tried={"b"})
    assert decision is not None and decision.to_profile == "default"
    assert "'b'" in decision.event_message() and "usage limit" in decision.event_message()


def test_a_profile_outside_the_allowed_list_fails_over_into_it() -> None:
    settings = AuthSettings(failover=True, failover_profiles=("a", "b"))
    decision = decide_failover(settings, QUOTA, "default", PROFILES, tried={"default"})
    assert decision is not None and decision.to_profile == "a"


def test_other_errors_never_switch_profiles() -> None:
    error = ErrorInfo("context window exceeded", FailureClass.CONTEXT_WINDOW_EXCEEDED)
    assert decide_failover(ON, error, "default", PROFILES) is None
