from __future__ import annotations

from codex_runner.codex.app_server_events import delta_from_wire
from codex_runner.domain.delta import Delta, DeltaKind


def _params(delta: str) -> dict[str, str]:
    return {"threadId": "th", "turnId": "tu", "itemId": "it", "delta": delta}


def test_each_streaming_notification_becomes_its_kind_of_delta() -> None:
    cases = {
        "item/agentMessage/delta": DeltaKind.AGENT_MESSAGE,
        "item/reasoning/summaryTextDelta": DeltaKind.REASONING,
        "item/commandExecution/outputDelta": DeltaKind.COMMAND_OUTPUT,
        "item/plan/delta": DeltaKind.PLAN,
    }
    for method, kind in cases.items():
        assert delta_from_wire(method, _params("abc")) == Delta("it", kind, "abc")


def test_diff_and_plan_updates_are_snapshots_keyed_by_the_turn() -> None:
    diff = delta_from_wire("turn/diff/updated", {"turnId": "tu", "diff": "--- a\n+++ b"})
    assert diff == Delta("tu", DeltaKind.DIFF, "--- a\n+++ b", replaces=True)
    plan = delta_from_wire(
        "turn/plan/updated",
        {"turnId": "tu", "plan": [{"step": "read", "status": "completed"}]},
    )
    assert plan == Delta("tu", DeltaKind.PLAN, "[completed] read", replaces=True)


def test_other_notifications_and_empty_pieces_carry_no_delta() -> None:
    assert delta_from_wire("item/completed", {"item": {}}) is None
    assert delta_from_wire("item/agentMessage/delta", _params("")) is None
