"""Model names and the aliases that stand for them (``[codex.models]``).

An alias is resolved where a model enters (the config's ``[codex] model``, a task's or a
graph's ``model``), so what is stored and sent to Codex is always the real name: a task
keeps the model it ran with even when the alias is later pointed elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping

MODEL_NAME_MAX = 200


def model_name_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a model name (one line of at most 200 characters),
    or None when nothing is."""
    if not isinstance(value, str) or not value.strip():
        return "a model name is text such as 'gpt-5.1-codex'"
    if len(value) > MODEL_NAME_MAX:
        return f"a model name has at most {MODEL_NAME_MAX} characters, not {len(value)}"
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return "a model name holds no control character (a newline?)"
    return None


def check_model_aliases(aliases: Mapping[str, str]) -> dict[str, str]:
    """The alias map, each name and model checked; raises ValueError naming the first bad
    entry. An alias naming another alias is refused: one look-up always gives the model."""
    for alias, model in aliases.items():
        for value in (alias, model):
            if problem := model_name_problem(value):
                raise ValueError(f"{alias!r} = {model!r}: {problem}")
        if model in aliases:
            raise ValueError(
                f"{alias!r} = {model!r} names another alias; write the model {alias!r} "
                f"stands for ({aliases[model]!r}?)"
            )
    return dict(aliases)


def resolve_model(model: str | None, aliases: Mapping[str, str]) -> str | None:
    """The model ``model`` stands for: its alias's model, else itself."""
    return aliases.get(model, model) if model is not None else None
