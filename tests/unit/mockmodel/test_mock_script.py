"""The mock model's script: loading, validation messages, rule matching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from codex_runner.mockmodel import Script, ScriptError, load_builtin_script, load_script
from codex_runner.mockmodel.script import (
    CutStep,
    DelayStep,
    HttpErrorStep,
    MessageStep,
    ShellStep,
    WriteFileStep,
)

EXAMPLE: dict[str, Any] = {
    "rules": [
        {"name": "hello", "match": "hello", "responses": [[{"message": "Hi there"}]]},
        {
            "name": "make-file",
            "match": "create a file",
            "responses": [[{"shell": "echo hi > f.txt"}], [{"message": "Created f.txt"}]],
        },
        {"match": "slow", "responses": [[{"delay": 1.5}, {"message": "late"}]]},
    ]
}

EXAMPLE_YAML = """
rules:
  - name: hello
    match: "hello"
    responses:
      - - message: "Hi there"
  - name: make-file
    match: "create a file"
    responses:
      - - shell: "echo hi > f.txt"
      - - message: "Created f.txt"
  - match: "slow"
    responses:
      - - delay: 1.5
        - message: "late"
"""


def error_of(data: Any) -> str:
    with pytest.raises(ScriptError) as caught:
        Script.from_dict(data)
    return str(caught.value)


def one_rule(*responses: Any, **rule: Any) -> dict[str, Any]:
    return {"rules": [{"name": "r", **rule, "responses": list(responses)}]}


def test_the_documented_example_builds_typed_steps() -> None:
    script = Script.from_dict(EXAMPLE)

    assert [rule.name for rule in script.rules] == ["hello", "make-file", None]
    assert script.rules[1].responses == [
        [ShellStep(shell="echo hi > f.txt")],
        [MessageStep(message="Created f.txt")],
    ]
    assert script.rules[2].responses[0] == [DelayStep(delay=1.5), MessageStep(message="late")]


def test_yaml_and_json_files_load_to_the_same_script(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(EXAMPLE_YAML)
    (tmp_path / "s.json").write_text(json.dumps(EXAMPLE))

    assert load_script(tmp_path / "s.yaml") == load_script(tmp_path / "s.json")
    assert load_script(str(tmp_path / "s.yaml")) == Script.from_dict(EXAMPLE)


def test_model_validate_accepts_the_same_data() -> None:
    assert Script.model_validate(EXAMPLE) == Script.from_dict(EXAMPLE)


def test_every_step_kind_and_its_options_parse() -> None:
    script = Script.from_dict(
        one_rule(
            [
                {"reasoning": "think"},
                {"shell": "ls", "workdir": "sub", "timeout_ms": 1000, "justification": "ok?"},
                {"write_file": {"path": "a/b.txt", "content": "x"}},
                {"apply_patch": "*** Begin Patch\n*** End Patch\n"},
                {"echo": True},
                {"delay": 0},
                {"message": "m"},
                {"cut": True},
            ],
            [{"hang": True}],
            [{"delay": 0.5}, {"http_error": 429, "body": "{}"}],
        )
    )

    first, second, third = script.rules[0].responses
    assert isinstance(first[2], WriteFileStep)
    assert first[2].write_file.path == "a/b.txt"
    assert isinstance(first[-1], CutStep)
    assert third[-1] == HttpErrorStep(http_error=429, body="{}")
    assert len(second) == 1


def test_builtin_demo_script_loads_and_answers_run_the_demo() -> None:
    script = load_builtin_script("demo")

    selected = script.select("please run the demo now")
    assert selected is not None
    assert selected[1].name == "demo"


def test_unknown_builtin_script_is_a_clear_error() -> None:
    with pytest.raises(ScriptError, match="no built-in mock-model script named 'nope'"):
        load_builtin_script("nope")


def test_a_misspelt_step_kind_suggests_the_right_one() -> None:
    message = error_of(one_rule([{"mesage": "hi"}]))

    assert "rules[0] ('r')" in message
    assert "responses[0][0]" in message
    assert "did you mean 'message'" in message


def test_a_step_mixing_two_kinds_is_rejected() -> None:
    message = error_of(one_rule([{"message": "hi", "shell": "ls"}]))

    assert "mixes step kinds message, shell" in message
    assert "own list item" in message


def test_a_flat_list_of_steps_explains_the_two_dashes() -> None:
    message = error_of(one_rule({"message": "hi"}))

    assert "responses[0] is a single step" in message
    assert "- - message: hi" in message


def test_unknown_rule_key_names_the_rule_and_the_allowed_keys() -> None:
    message = error_of({"rules": [{"name": "greet", "matches": "x", "responses": [[]]}]})

    assert "rules[0] ('greet').matches" in message
    assert "unknown key 'matches'" in message
    assert "name, match, regex, responses" in message


def test_a_rule_without_responses_says_the_key_is_missing() -> None:
    message = error_of({"rules": [{"name": "greet", "match": "hi"}]})

    assert "rules[0] ('greet').responses: missing required key 'responses'" in message


def test_unknown_top_level_key_lists_allowed_keys() -> None:
    message = error_of({"rule": []})

    assert "unknown key 'rule'" in message
    assert "description, rules" in message


def test_match_and_regex_together_are_rejected() -> None:
    message = error_of(one_rule([{"message": "x"}], match="a", regex="b"))

    assert "`match` (substring) or `regex`, not both" in message


def test_an_invalid_regex_is_reported_with_the_pattern() -> None:
    assert "invalid regular expression '('" in error_of(one_rule([{"message": "x"}], regex="("))


def test_steps_after_cut_could_never_play() -> None:
    message = error_of(one_rule([{"cut": True}, {"message": "never"}]))

    assert "responses[0]: step 0: cut ends the response" in message


def test_http_error_may_only_follow_delays() -> None:
    message = error_of(one_rule([{"message": "x"}, {"http_error": 500}]))

    assert "only delay steps may come before it" in message


def test_step_option_errors_name_the_step_kind_and_field() -> None:
    message = error_of(one_rule([{"shell": "ls", "timeout_ms": 5}]))

    assert "responses[0][0]: shell step: timeout_ms" in message
    assert "greater than or equal to 250" in message


def test_http_error_status_must_be_an_error_status() -> None:
    assert "http_error" in error_of(one_rule([{"http_error": 200}]))


def test_empty_responses_and_empty_response_are_rejected() -> None:
    assert "non-empty list" in error_of({"rules": [{"responses": []}]})
    assert "at least one step" in error_of(one_rule([]))


def test_model_validate_raises_pydantic_validation_error_with_the_same_hint() -> None:
    with pytest.raises(ValidationError, match="did you mean 'message'"):
        Script.model_validate(one_rule([{"mesage": "hi"}]))


def test_file_problems_are_script_errors(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="script file not found"):
        load_script(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ScriptError, match="is empty"):
        load_script(tmp_path / "empty.yaml")
    (tmp_path / "bad.yaml").write_text("rules: [\n")
    with pytest.raises(ScriptError, match="invalid YAML"):
        load_script(tmp_path / "bad.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScriptError, match="invalid JSON"):
        load_script(tmp_path / "bad.json")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ScriptError, match="a script is a mapping with a `rules` list"):
        load_script(tmp_path / "list.yaml")


def test_match_is_a_case_insensitive_substring() -> None:
    script = Script.from_dict(EXAMPLE)

    assert script.rules[0].matches("Well, HELLO there")
    assert not script.rules[0].matches("goodbye")


def test_regex_uses_search_and_a_rule_without_matcher_matches_everything() -> None:
    script = Script.from_dict(
        {
            "rules": [
                {"regex": r"^fix (bug|issue) \d+$", "responses": [[{"message": "a"}]]},
                {"responses": [[{"message": "b"}]]},
            ]
        }
    )

    assert script.select("fix bug 12") == (0, script.rules[0])
    assert script.select("Fix bug 12") == (1, script.rules[1])
    assert script.select("") == (1, script.rules[1])


def test_the_first_matching_rule_wins() -> None:
    script = Script.from_dict(
        {
            "rules": [
                {"name": "specific", "match": "create a file", "responses": [[{"message": "1"}]]},
                {"name": "general", "match": "create", "responses": [[{"message": "2"}]]},
            ]
        }
    )

    assert script.select("create a file please") == (0, script.rules[0])
    assert script.select("create a branch") == (1, script.rules[1])
    assert script.select("nothing") is None


def test_first_regex_tells_sessions_apart_by_their_first_prompt() -> None:
    script = Script.from_dict(
        {
            "rules": [
                {
                    "regex": "poison|Continue",
                    "first_regex": "poison",
                    "responses": [[{"message": "bad"}]],
                },
                {"responses": [[{"message": "fine"}]]},
            ]
        }
    )
    assert script.select("poison") == (0, script.rules[0])
    assert script.select("Continue where you left off.", "poison, please") == (0, script.rules[0])
    assert script.select("Continue where you left off.", "quick") == (1, script.rules[1])
    with pytest.raises(ScriptError, match="invalid regular expression"):
        Script.from_dict({"rules": [{"first_regex": "(", "responses": [[{"message": "x"}]]}]})
