"""Model names and aliases: what a name may be, and an alias standing for one model."""

from __future__ import annotations

import pytest

from codex_runner.domain.model_names import (
    check_model_aliases,
    model_name_problem,
    resolve_model,
)


@pytest.mark.parametrize("name", ["gpt-5-codex", "mock model", "x" * 200])
def test_a_model_name_is_one_line_of_at_most_200_characters(name: str) -> None:
    assert model_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "text"), ("  ", "text"), (5, "text"), ("x" * 201, "200"), ("a\nb", "control")],
)
def test_a_bad_model_name_says_what_is_wrong(name: object, problem: str) -> None:
    assert problem in (model_name_problem(name) or "")


def test_an_alias_resolves_to_its_model_and_anything_else_to_itself() -> None:
    aliases = check_model_aliases({"fast": "gpt-5-codex-mini", "deep": "gpt-5-codex"})
    assert resolve_model("fast", aliases) == "gpt-5-codex-mini"
    assert resolve_model("gpt-5-codex", aliases) == "gpt-5-codex"
    assert resolve_model(None, aliases) is None


def test_an_alias_of_an_alias_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match="'quick' = 'fast' names another alias") as caught:
        check_model_aliases({"fast": "gpt-5-codex-mini", "quick": "fast"})
    assert "'gpt-5-codex-mini'" in str(caught.value)


@pytest.mark.parametrize("aliases", [{"": "m"}, {"fast": ""}, {"fast": "a\nb"}, {"x" * 201: "m"}])
def test_alias_names_and_models_follow_the_model_name_rules(aliases: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="a model name"):
        check_model_aliases(aliases)
