"""The terminal view of items still streaming: the answer printed as it grows and never a
second time, command output as it comes, and a spinner with the running command on a
terminal only."""

from __future__ import annotations

import io

from rich.console import Console

from codex_runner.cli.render import LiveView, TaskEventView
from codex_runner.cli.status_line import StatusLine
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType

ANSWER = "The answer grows, piece by piece."


def lines(out: io.StringIO) -> list[str]:
    return [line.rstrip() for line in out.getvalue().splitlines()]


def piped() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, highlight=False, color_system=None), out


def terminal() -> Console:
    return Console(file=io.StringIO(), width=200, force_terminal=True, highlight=False)


def answer(text: str, item_id: str = "msg_1") -> Delta:
    return Delta(item_id, DeltaKind.AGENT_MESSAGE, text)


def output(text: str, item_id: str = "call_1") -> Delta:
    return Delta(item_id, DeltaKind.COMMAND_OUTPUT, text)


def completed(item: Item) -> CodexEvent:
    return CodexEvent(EventKind.ITEM_COMPLETED, item=item)


def message_item(text: str, item_id: str = "msg_1") -> Item:
    return Item(id=item_id, type=ItemType.AGENT_MESSAGE, text=text)


def command_item(output: str | None = None, item_id: str = "call_1") -> Item:
    return Item(
        id=item_id, type=ItemType.COMMAND_EXECUTION, command="make test", exit_code=0, output=output
    )


def test_an_answer_prints_as_it_grows_and_not_again_when_it_completes() -> None:
    console, out = piped()
    view = LiveView(console)
    view.delta(answer("The answer "))
    assert out.getvalue() == "codex: The answer "  # no line end yet: it is still growing
    view.delta(answer("grows, piece"))
    assert out.getvalue() == "codex: The answer grows, piece"
    view(completed(message_item(ANSWER)))
    assert out.getvalue() == f"codex: {ANSWER}\n"
    assert out.getvalue().count(ANSWER) == 1


def test_a_line_printed_while_an_answer_grows_ends_the_answers_line_first() -> None:
    console, out = piped()
    view = LiveView(console)
    view.delta(answer("The answer"))
    view(CodexEvent(EventKind.WARNING, message="careful"))
    view.delta(answer(" grows, piece by piece."))
    view(completed(message_item(ANSWER)))
    assert lines(out) == [
        "codex: The answer",
        "! careful",
        "codex:  grows, piece by piece.",
    ]


def test_an_answer_joined_in_the_middle_is_printed_whole_when_it_completes() -> None:
    console, out = piped()
    view = LiveView(console)
    view.delta(answer("piece by piece."))  # a follow that started after the beginning
    view(completed(message_item(ANSWER)))
    lines = out.getvalue().splitlines()
    assert lines[0] == "codex: piece by piece."
    assert any(ANSWER in line for line in lines[1:])  # the whole answer, in its panel


def test_an_answer_never_streamed_is_printed_in_its_panel_as_before() -> None:
    console, out = piped()
    LiveView(console)(completed(message_item(ANSWER)))
    assert "codex:" not in out.getvalue()
    assert ANSWER in out.getvalue()


def test_command_output_prints_a_line_at_a_time_and_only_once() -> None:
    console, out = piped()
    view = LiveView(console)
    view(CodexEvent(EventKind.ITEM_STARTED, item=command_item()))
    view.delta(output("one\ntw"))
    assert lines(out) == ["$ make test", "  one"]  # "tw" waits for its end
    view.delta(output("o\nthr"))
    view(completed(command_item("one\ntwo\nthree\n")))
    assert lines(out) == ["$ make test", "  one", "  two", "  three", "  exit 0"]


def test_output_the_completed_command_has_beyond_what_streamed_is_printed_once() -> None:
    # Codex's exec tool returns its first moments' output with the item and streams the rest.
    console, out = piped()
    view = LiveView(console)
    view.delta(output("second\n"))
    view(completed(command_item("first\n")))
    assert lines(out) == ["  second", "  first", "  exit 0"]


def test_a_command_that_streamed_nothing_shows_its_output_as_before() -> None:
    console, out = piped()
    LiveView(console)(completed(command_item("only at the end\n")))
    assert lines(out) == ["  only at the end", "  exit 0"]


def test_reasoning_plan_and_diff_deltas_wait_for_their_items() -> None:
    console, out = piped()
    view = LiveView(console)
    for kind in (DeltaKind.REASONING, DeltaKind.PLAN, DeltaKind.DIFF):
        view.delta(Delta("r_1", kind, "thinking"))
    assert out.getvalue() == ""


def test_model_text_cannot_move_the_terminals_cursor() -> None:
    console, out = piped()
    view = LiveView(console)
    view.delta(answer("safe\x1b[2J\rtext\x07\x9b"))
    view.delta(output("out\x1b]0;title\x07put\n"))
    assert lines(out) == ["codex: safe[2Jtext", "  out]0;titleput"]


def test_on_a_terminal_the_spinner_shows_the_running_command_until_it_completes() -> None:
    console = terminal()
    status = StatusLine(console, "following")
    view = LiveView(console, status=status)
    try:
        status.resume()
        assert status.shown == "following"
        view(CodexEvent(EventKind.ITEM_STARTED, item=command_item()))
        assert status.shown == "running $ make test"
        view.delta(output("building\n"))
        assert status.shown == "running $ make test"
        view(completed(command_item("building\n")))
        assert status.shown == "following"
        # While an answer's line is open the spinner is off: it would tear the line.
        view.delta(answer("The answer"))
        assert status.shown is None
        view(completed(message_item("The answer")))
        assert status.shown == "following"
    finally:
        view.end()
    assert status.shown is None


def test_a_turn_that_ends_takes_the_command_off_the_spinner() -> None:
    console = terminal()
    status = StatusLine(console)
    view = LiveView(console, status=status)
    try:
        view(CodexEvent(EventKind.ITEM_STARTED, item=command_item()))
        assert status.shown == "running $ make test"
        view(CodexEvent(EventKind.TURN_INTERRUPTED))
        assert status.shown is None
    finally:
        view.end()


def test_on_a_pipe_no_spinner_is_ever_drawn() -> None:
    console, out = piped()
    status = StatusLine(console, "following")
    view = LiveView(console, status=status)
    status.resume()
    view(CodexEvent(EventKind.ITEM_STARTED, item=command_item()))
    assert status.shown is None
    assert status.text == "running $ make test"
    view(completed(command_item("done\n")))
    view.end()
    assert lines(out) == ["$ make test", "  done", "  exit 0"]


def test_the_task_view_prints_deltas_between_durable_events() -> None:
    console, out = piped()
    view = TaskEventView(console)
    view.delta(answer("The answer grows, "))
    view(
        TaskEvent(
            task_id="t_1",
            seq=7,
            type="codex.item.completed",
            at="2026-01-01T00:00:00Z",
            data=completed(message_item(ANSWER)).to_dict(),
        )
    )
    view(
        TaskEvent(
            task_id="t_1",
            seq=8,
            type="task.state_changed",
            at="2026-01-01T00:00:01Z",
            data={"from": "running", "to": "completed"},
        )
    )
    assert lines(out) == [f"codex: {ANSWER}", "→ completed"]
