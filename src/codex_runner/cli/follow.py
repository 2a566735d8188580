"""Following a task's events until it ends or needs a person, with one exit status per ending.

A follow never waits on a state only a person can leave: an interrupted task ends it (it
waits for `task resume`), and so does a task awaiting approval when the caller says not to
wait for the approval. Each ending has its own status (:mod:`.exit_codes`) and one line on
stderr saying what to do next. Readable output also prints the live deltas of items still
streaming (the answer as it grows, command output as it comes) unless told not to, and on a
terminal a spinner says which command runs.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli import exit_codes
from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_errors import ClientError, DaemonLost
from codex_runner.cli.event_stream import DeltasDropped, follow_live
from codex_runner.cli.render import TaskEventView, error_exit, print_model_json, styled_state
from codex_runner.cli.status_line import StatusLine
from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import STATE_CHANGE_TYPES, TaskEvent
from codex_runner.domain.task import TaskState
from codex_runner.domain.transitions import FINAL_STATES
from codex_runner.http.wire import EventOut
from codex_runner.http.wire_tasks import TaskOut

out = Console(highlight=False)

# The states a follow ends in; the others mean the task is still on its way.
ENDINGS = frozenset(
    {
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.CANCELLED,
        TaskState.INTERRUPTED,
        TaskState.AWAITING_APPROVAL,
    }
)
WAIT_APPROVAL_HELP = (
    "Stop following when the task waits for an approval (exit 4) instead of waiting for "
    "someone to decide it."
)
NO_DELTAS_HELP = (
    "Print Codex's answer and command output once each item completes, instead of live as "
    "they stream."
)


def follow_task(
    client: DaemonClient,
    task_id: str,
    *,
    json_output: bool,
    wait_for_approval: bool = True,
    deltas: bool = True,
) -> None:
    """Stream the task's events until it is completed (exit 0), failed or cancelled (1),
    interrupted (3), awaiting approval without ``wait_for_approval`` (4); 5 when the daemon
    went away, 130 when the user stops following (the task goes on). With ``deltas`` (and
    readable output) the items still streaming are printed as they grow."""
    stop_states = {TaskState.INTERRUPTED}
    if not wait_for_approval:
        stop_states.add(TaskState.AWAITING_APPROVAL)
    try:
        seen = _show_events(
            client, task_id, stop_states, json_output=json_output, deltas=deltas and not json_output
        )
        task = client.get_task(task_id)
    except KeyboardInterrupt:
        raise error_exit(
            f"stopped following task {task_id}; it goes on "
            f"(`codex-runner task interrupt {task_id}` stops it)",
            exit_codes.STOPPED_BY_USER,
        ) from None
    except ClientError as exc:
        if isinstance(exc, DaemonLost) or exc.status is None:
            raise error_exit(
                f"{exc}; once the daemon is back, see the task with: "
                f"codex-runner task show {task_id}",
                exit_codes.DAEMON_LOST,
            ) from None
        raise
    # The stream's own last state change is where the follow stopped; the task may have
    # moved on since (resumed at once), and the ending must match what was shown.
    state, reason = seen if seen is not None and seen[0] in ENDINGS else (task.state, task.reason)
    if not json_output:
        tokens = task.usage.total_tokens
        out.print(f"task [bold]{task.id}[/] {styled_state(state)} [dim]({tokens} tokens)[/]")
    _end(client, task, state, reason)


def _show_events(
    client: DaemonClient,
    task_id: str,
    stop_states: set[TaskState],
    *,
    json_output: bool,
    deltas: bool,
) -> tuple[TaskState, str | None] | None:
    """Print the task's events (and deltas) as they come; the last state change seen."""
    status = StatusLine(out, f"following task {task_id}", drawn=False if json_output else None)
    view = TaskEventView(out, status=status)
    count = 0
    seen: tuple[TaskState, str | None] | None = None  # the last state change: state, reason
    try:
        status.resume()  # draws the spinner, on a terminal
        for item in follow_live(
            client,
            task_id,
            until_terminal=True,
            until_states=stop_states,
            max_reconnects=client.max_reconnects,
            deltas=deltas,
        ):
            if isinstance(item, Delta):
                view.delta(item)
            elif isinstance(item, DeltasDropped):
                continue  # the completed items still come, and print what was not shown
            elif json_output:
                seen = _state_change(item) or seen
                print_model_json(item)
            else:
                count += 1
                seen = _state_change(item) or seen
                view(as_task_event(item))
                shown = seen[0].value if seen else "…"
                status.set_idle(f"task {task_id}: {shown} · {count} events")
    finally:
        view.end()
    return seen


def _end(client: DaemonClient, task: TaskOut, state: TaskState, reason: str | None) -> None:
    """Return for a completed task; otherwise raise the exit for the ending."""
    why = f": {reason}" if reason else ""
    if state is TaskState.COMPLETED:
        return
    if state in FINAL_STATES:
        raise error_exit(f"task {task.id} {state.value}{why}", exit_codes.FAILED)
    if state is TaskState.INTERRUPTED:
        because = f" (reason: {reason})" if reason else ""
        raise needs_person(
            f"task {task.id} was interrupted{because}; resume it with: "
            f"codex-runner task resume {task.id}",
            exit_codes.INTERRUPTED,
        )
    if state is TaskState.AWAITING_APPROVAL:
        raise needs_person(_awaiting_line(client, task.id), exit_codes.AWAITING_APPROVAL)
    # The task moved on (a follow-up message, a resume) as the follow stopped.
    raise error_exit(
        f"task {task.id} is {state.value} again; follow it again with: codex-runner task logs "
        f"{task.id} --follow",
        exit_codes.FAILED,
    )


def _awaiting_line(client: DaemonClient, task_id: str) -> str:
    try:
        pending = client.approvals("pending", task_id=task_id).approvals
    except ClientError:
        pending = []
    if not pending:
        return (
            f"task {task_id} is awaiting approval; decide it with: codex-runner approvals "
            "decide APPROVAL_ID DECISION (see `codex-runner approvals list`)"
        )
    approval = pending[0]
    decisions = "|".join(approval.available_decisions) or "DECISION"
    return (
        f"task {task_id} is awaiting approval {approval.id} ({approval.kind}); decide it "
        f"with: codex-runner approvals decide {approval.id} {decisions}"
    )


def needs_person(message: str, code: int) -> typer.Exit:
    """Print one line to stderr (what to do next) and return the exit to raise."""
    Console(stderr=True, highlight=False).print(
        f"[yellow]{escape(' '.join(message.split()))}[/]", soft_wrap=True
    )
    return typer.Exit(code)


def _state_change(event: EventOut) -> tuple[TaskState, str | None] | None:
    if event.type not in STATE_CHANGE_TYPES:
        return None
    try:
        state = TaskState(str(event.data.get("to")))
    except ValueError:
        return None
    reason = event.data.get("reason")
    return state, str(reason) if reason else None


def as_task_event(event: EventOut) -> TaskEvent:
    return TaskEvent(
        task_id=event.task_id, seq=event.seq, type=event.type, at=event.at, data=event.data
    )
