from __future__ import annotations

import pytest

from codex_runner.domain.delta import Delta, DeltaKind


def test_appending_deltas_of_one_item_concatenate_in_order() -> None:
    first = Delta("i1", DeltaKind.AGENT_MESSAGE, "Hel")
    merged = first.followed_by(Delta("i1", DeltaKind.AGENT_MESSAGE, "lo"))
    assert merged == Delta("i1", DeltaKind.AGENT_MESSAGE, "Hello")


def test_a_snapshot_replaces_what_came_before() -> None:
    old = Delta("t1", DeltaKind.DIFF, "old diff", replaces=True)
    new = Delta("t1", DeltaKind.DIFF, "new diff", replaces=True)
    assert old.followed_by(new) == new


def test_deltas_of_different_items_do_not_coalesce() -> None:
    with pytest.raises(ValueError, match="one item"):
        Delta("a", DeltaKind.AGENT_MESSAGE, "x").followed_by(
            Delta("b", DeltaKind.AGENT_MESSAGE, "y")
        )


def test_a_delta_as_a_dict_names_item_kind_and_text() -> None:
    assert Delta("i", DeltaKind.COMMAND_OUTPUT, "out").to_dict() == {
        "item_id": "i",
        "kind": "command_output",
        "text": "out",
    }
