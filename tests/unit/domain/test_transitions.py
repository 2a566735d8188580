"""Every (state, action) pair, the bookkeeping of apply(), and properties of the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_runner.domain.task import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Task,
    TaskState,
    WorkspaceRequest,
)
from codex_runner.domain.transitions import (
    FINAL_STATES,
    TRANSITIONS,
    USER_ACTIONS,
    Action,
    InvalidTransition,
    accepts_message,
    apply,
    can_apply,
    user_actions,
)

S, A = TaskState, Action
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# Written out independently of the module, so a change to the table has to change this too.
EXPECTED = {
    (S.QUEUED, A.START): S.RUNNING,
    (S.QUEUED, A.CANCEL): S.CANCELLED,
    (S.QUEUED, A.DEPENDENCY_FAILED): S.FAILED,
    (S.RUNNING, A.PARK_FOR_APPROVAL): S.AWAITING_APPROVAL,
    (S.RUNNING, A.COMPLETE): S.COMPLETED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.RECONCILE): S.INTERRUPTED,
    (S.AWAITING_APPROVAL, A.APPROVAL_RESOLVED): S.RUNNING,
    (S.AWAITING_APPROVAL, A.FAIL): S.FAILED,
    (S.AWAITING_APPROVAL, A.INTERRUPT): S.INTERRUPTED,
    (S.AWAITING_APPROVAL, A.CANCEL): S.CANCELLED,
    (S.AWAITING_APPROVAL, A.RECONCILE): S.INTERRUPTED,
    (S.INTERRUPTED, A.RESUME): S.QUEUED,
    (S.INTERRUPTED, A.MESSAGE): S.QUEUED,
    (S.INTERRUPTED, A.CANCEL): S.CANCELLED,
    (S.COMPLETED, A.MESSAGE): S.QUEUED,
    (S.COMPLETED, A.TURN_STARTED_ELSEWHERE): S.RUNNING,
    (S.INTERRUPTED, A.TURN_STARTED_ELSEWHERE): S.RUNNING,
}


def make_task(state: TaskState = S.QUEUED, **fields: object) -> Task:
    return Task(
        id="t_test",
        prompt="do it",
        workspace=WorkspaceRequest.directory("/w"),
        created_at=T0,
        updated_at=T0,
        state=state,
        **fields,  # type: ignore[arg-type]
    )


def test_the_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("action", list(Action))
def test_every_state_and_action_pair(state: TaskState, action: Action) -> None:
    task = make_task(state)
    now = T0 + timedelta(minutes=1)
    expected = EXPECTED.get((state, action))
    if expected is None:
        assert not can_apply(state, action)
        with pytest.raises(InvalidTransition) as caught:
            apply(task, action, now=now)
        error = caught.value
        assert (error.task_id, error.state, error.action) == ("t_test", state, action)
        assert error.allowed == user_actions(state)
        message = str(error)
        assert f"cannot {action} task t_test" in message
        assert f"it is {state}" in message
        for allowed in error.allowed:
            assert allowed.value in message
        listed = message.split(f"actions allowed from {state}: ", 1)[1]
        for internal in set(Action) - USER_ACTIONS:
            assert internal.value not in listed
    else:
        assert can_apply(state, action)
        after = apply(task, action, now=now, reason="because")
        assert after.state is expected
        assert after.updated_at == now
        assert after.reason == "because"


def test_an_error_lists_only_the_actions_a_user_can_take() -> None:
    with pytest.raises(InvalidTransition) as caught:
        apply(make_task(S.QUEUED), A.RESUME, now=T0)
    assert str(caught.value) == (
        "cannot resume task t_test: it is queued; actions allowed from queued: cancel"
    )


def test_every_state_a_user_can_act_on_offers_an_action() -> None:
    for state in TaskState:
        if not state.is_terminal:
            assert user_actions(state), state
    assert set(user_actions(S.INTERRUPTED)) == {A.RESUME, A.MESSAGE, A.CANCEL}
    assert {a for (_, a) in TRANSITIONS} >= USER_ACTIONS


def test_invalid_transition_message_names_state_action_and_alternatives() -> None:
    with pytest.raises(InvalidTransition) as caught:
        apply(make_task(S.COMPLETED), A.START, now=T0)
    assert str(caught.value) == (
        "cannot start task t_test: it is completed; actions allowed from completed: message"
    )


def test_a_final_state_says_so_in_the_error() -> None:
    with pytest.raises(InvalidTransition, match=r"none \(the state is final\)"):
        apply(make_task(S.CANCELLED), A.RESUME, now=T0)


def test_start_records_the_start_and_counts_an_attempt() -> None:
    started = apply(make_task(), A.START, now=T0 + timedelta(seconds=5))
    assert started.started_at == T0 + timedelta(seconds=5)
    assert started.attempts == 1
    assert started.finished_at is None


def test_entering_a_terminal_state_sets_finished_at_and_leaving_clears_it() -> None:
    running = apply(make_task(), A.START, now=T0)
    done = apply(running, A.COMPLETE, now=T0 + timedelta(seconds=9))
    assert done.finished_at == T0 + timedelta(seconds=9)
    again = apply(done, A.MESSAGE, now=T0 + timedelta(seconds=10))
    assert again.state is S.QUEUED and again.finished_at is None
    restarted = apply(again, A.START, now=T0 + timedelta(seconds=11))
    assert restarted.attempts == 2
    assert restarted.started_at == T0 + timedelta(seconds=11)


def test_a_transition_without_reason_clears_the_previous_reason() -> None:
    interrupted = apply(make_task(S.RUNNING), A.INTERRUPT, now=T0, reason="user asked")
    assert interrupted.reason == "user asked"
    assert apply(interrupted, A.RESUME, now=T0).reason is None


def test_apply_keeps_every_other_field() -> None:
    task = make_task(S.RUNNING, thread_id="th_1", priority=7, branch="b")
    after = apply(task, A.PARK_FOR_APPROVAL, now=T0)
    assert (after.thread_id, after.priority, after.branch) == ("th_1", 7, "b")
    assert after.id == task.id and after.created_at == task.created_at


def test_reconcile_applies_exactly_to_active_states_and_interrupts_them() -> None:
    reconcilable = {s for s in TaskState if can_apply(s, A.RECONCILE)}
    assert reconcilable == ACTIVE_STATES
    for state in reconcilable:
        assert TRANSITIONS[(state, A.RECONCILE)] is S.INTERRUPTED


def test_every_state_is_reachable_from_queued_and_every_state_can_finish() -> None:
    def reachable(start: TaskState) -> set[TaskState]:
        seen, todo = {start}, [start]
        while todo:
            state = todo.pop()
            for (source, _), target in TRANSITIONS.items():
                if source is state and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    assert reachable(S.QUEUED) == set(TaskState)
    for state in TaskState:
        assert reachable(state) & TERMINAL_STATES, f"{state} can never finish"


def test_state_helpers() -> None:
    assert {s for s in TaskState if s.is_terminal} == {S.COMPLETED, S.FAILED, S.CANCELLED}
    assert {s for s in TaskState if s.is_active} == {S.RUNNING, S.AWAITING_APPROVAL}
    idle = {S.COMPLETED, S.INTERRUPTED, S.FAILED, S.CANCELLED}
    assert {s for s in TaskState if s.is_idle} == idle


def test_final_states_are_failed_and_cancelled() -> None:
    assert {S.FAILED, S.CANCELLED} == FINAL_STATES


def test_a_message_is_accepted_by_an_interrupted_or_completed_task_only() -> None:
    assert {s for s in TaskState if accepts_message(s)} == {S.INTERRUPTED, S.COMPLETED}


# --- properties ------------------------------------------------------------------------------

states = st.sampled_from(list(TaskState))
actions = st.sampled_from(list(Action))


@given(states, actions)
def test_terminal_states_are_left_only_by_a_follow_up_message_or_a_turn_started_elsewhere(
    state: TaskState, action: Action
) -> None:
    if state.is_terminal and can_apply(state, action):
        assert action in (A.MESSAGE, A.TURN_STARTED_ELSEWHERE)
        assert state is S.COMPLETED


@given(actions)
def test_cancelled_and_failed_never_leave(action: Action) -> None:
    for state in (S.CANCELLED, S.FAILED):
        with pytest.raises(InvalidTransition):
            apply(make_task(state), action, now=T0)


@given(st.lists(actions, max_size=60))
def test_any_sequence_of_actions_keeps_the_bookkeeping_consistent(
    sequence: list[Action],
) -> None:
    task = make_task()
    starts = 0
    now = T0
    for action in sequence:
        now += timedelta(seconds=1)
        before = task
        try:
            task = apply(task, action, now=now)
        except InvalidTransition:
            assert not can_apply(before.state, action)
            continue
        assert task.state is TRANSITIONS[(before.state, action)]
        starts += action is A.START
        assert task.attempts == starts
        assert (task.finished_at is not None) == task.state.is_terminal
        assert task.updated_at == now
        if task.state is S.RUNNING:
            assert task.started_at is not None
