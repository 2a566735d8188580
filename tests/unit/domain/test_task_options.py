"""The rules a task's options and a turn's overrides follow (pure checks)."""

from __future__ import annotations

from typing import Any

import pytest

from codex_runner.domain.task_options import (
    InvalidOption,
    SessionOptions,
    TurnOverrides,
    check_config,
    check_metadata,
    check_purpose,
    check_turn_cwd,
)


@pytest.mark.parametrize(
    "config",
    [
        {"sandbox_mode": "danger-full-access"},
        {"sandbox_workspace_write.network_access": True},
        {"approval_policy": "never"},
        {"mcp_servers.evil.command": "sh"},
        {"notify": ["sh", "-c", "x"]},
        {"shell_environment_policy.inherit": "all"},
        {"unheard_of_key": 1},
        {"model_verbosity": None},
        {"bad key": 1},
    ],
)
def test_config_outside_the_safe_list_or_with_null_is_refused(config: dict[str, Any]) -> None:
    with pytest.raises(InvalidOption) as caught:
        check_config(config)
    assert caught.value.field == "config"


def test_safe_config_keys_pass_and_the_daemon_may_allow_more() -> None:
    safe = {"model_verbosity": "low", "features.web_search": True, "tools": {"web_search": True}}
    assert check_config(safe) == safe
    assert check_config({"mcp_servers.docs.url": "http://x"}, frozenset({"mcp_servers"}))


@pytest.mark.parametrize("label", ["review", "ci/lint", "a", "team.x:y-1"])
def test_good_purposes(label: str) -> None:
    assert check_purpose(label) == label


@pytest.mark.parametrize("label", ["", "Review", "-x", "a b", "x" * 65, 5])
def test_bad_purposes(label: object) -> None:
    with pytest.raises(InvalidOption, match="purpose"):
        check_purpose(label)


def test_metadata_is_a_small_flat_map_of_strings() -> None:
    assert check_metadata({"ticket": "ENG-1", "pr.number": "42"}) == {
        "ticket": "ENG-1",
        "pr.number": "42",
    }
    for bad in ({"n": 5}, {"": "x"}, {"k": "v" * 501}, {f"k{i}": "v" for i in range(33)}, [1]):
        with pytest.raises(InvalidOption, match="metadata"):
            check_metadata(bad)


@pytest.mark.parametrize(("given", "kept"), [("src", "src"), ("./a//b/", "a/b"), (".", ".")])
def test_a_turns_cwd_is_normalised_inside_the_workspace(given: str, kept: str) -> None:
    assert check_turn_cwd(given) == kept


@pytest.mark.parametrize("given", ["/etc", "../up", "a/../../b", ""])
def test_a_turns_cwd_may_not_leave_the_workspace(given: str) -> None:
    with pytest.raises(InvalidOption):
        check_turn_cwd(given)


def test_options_round_trip_through_json_keeping_only_what_is_set() -> None:
    session = SessionOptions(personality="none", config={"a.b": 1}, runtime="exec")
    assert session.to_json() == {"personality": "none", "config": {"a.b": 1}, "runtime": "exec"}
    assert SessionOptions.from_json(session.to_json()) == session
    assert SessionOptions().to_json() == {}
    turn = TurnOverrides(effort="low", output_schema={"type": "object"})
    assert TurnOverrides.from_json(turn.to_json()) == turn and not turn.empty
    assert TurnOverrides().empty
