"""Tables at 80 columns never cut an id or a state; in a pipe they are tab-separated lines."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from codex_runner.cli import approvals_cmd, graph_cmd, tasks_cmd
from codex_runner.cli.tables import Cell, Column, Fit, fit_widths
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import GraphOut

from .conftest import APPROVAL, CliRun, FakeDaemon, task_out

_IDS = IdGenerator()
new_task_id, new_graph_id, new_approval_id = _IDS.task_id, _IDS.graph_id, _IDS.approval_id
LONG_PROMPT = "Refactor the billing module so that invoices are computed lazily " * 3
LONG_CWD = "/srv/projects/customer-facing/billing-service/worktrees/main"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Every table command prints to an 80-column terminal (no colours, for reading)."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80, color_system=None)
    for module in (tasks_cmd, approvals_cmd, graph_cmd):
        monkeypatch.setattr(module, "out", console)
    yield screen


def lines_of(screen: io.StringIO) -> list[str]:
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), screen.getvalue()
    return lines


def test_task_list_at_80_columns_keeps_ids_and_states_whole(
    cli: CliRun, fake: FakeDaemon, terminal: io.StringIO
) -> None:
    states = (TaskState.AWAITING_APPROVAL, TaskState.COMPLETED, TaskState.INTERRUPTED)
    ids = [new_task_id() for _ in states]
    for task_id, state in zip(ids, states, strict=True):
        fake.add_task(task_out(task_id, state=state, prompt=LONG_PROMPT, cwd=LONG_CWD))
    result = cli("task", "list")
    assert result.exit_code == 0, result.output
    lines = lines_of(terminal)
    assert lines[0].split()[:2] == ["ID", "STATE"]
    assert "WORKSPACE" not in lines[0]  # dropped before anything else is cut
    for line, task_id, state in zip(lines[1:], ids, states, strict=True):
        assert line.split()[:2] == [task_id, state.value]
        assert "Refactor" in line and line.endswith("…")


def test_task_list_in_a_pipe_is_tab_separated_and_uncut(cli: CliRun, fake: FakeDaemon) -> None:
    task_id = new_task_id()
    fake.add_task(
        task_out(task_id, state=TaskState.AWAITING_APPROVAL, prompt="two\nlines", cwd=LONG_CWD)
    )
    result = cli("task", "list")
    assert result.exit_code == 0, result.output
    header, row = (line.split("\t") for line in result.stdout.splitlines())
    assert header == ["ID", "STATE", "PRI", "WORKSPACE", "AGE", "TOKENS", "PROMPT"]
    assert row[:4] == [task_id, "awaiting_approval", "0", LONG_CWD]
    assert row[6] == "two lines"
    assert "\x1b" not in result.stdout


def test_approvals_at_80_columns_show_whole_ids_commands_and_the_permanent_rule_note(
    cli: CliRun, fake: FakeDaemon, terminal: io.StringIO
) -> None:
    approval_id, task_id = new_approval_id(), new_task_id()
    command = "cargo test --workspace --all-features -- --include-ignored"
    fake.approvals = {
        approval_id: APPROVAL.model_copy(
            update={
                "id": approval_id,
                "task_id": task_id,
                "command": command,
                "cwd": LONG_CWD,
                "available_decisions": ["accept", "acceptWithExecpolicyAmendment", "decline"],
            }
        )
    }
    result = cli("approvals", "list")
    assert result.exit_code == 0, result.output
    text = "\n".join(lines_of(terminal))
    assert approval_id in text and task_id in text
    assert command in " ".join(text.split())  # whole, though it may wrap
    assert "acceptWithExecpolicyAmendment also saves a permanent rule" in text
    assert "in every profile" in text


def test_the_permanent_rule_note_goes_to_stderr_in_a_pipe_and_only_when_offered(
    cli: CliRun, fake: FakeDaemon
) -> None:
    offered = APPROVAL.model_copy(
        update={"available_decisions": ["accept", "acceptWithExecpolicyAmendment", "decline"]}
    )
    fake.approvals = {"a_1": offered}
    result = cli("approvals", "list")
    assert len(result.stdout.splitlines()) == 2
    assert "acceptWithExecpolicyAmendment also saves a permanent rule" in result.stderr
    fake.approvals = {"a_1": APPROVAL}
    assert "permanent rule" not in cli("approvals", "list").stderr


def test_graph_status_at_80_columns_keeps_every_id_and_shows_dependencies_by_key(
    cli: CliRun, fake: FakeDaemon, terminal: io.StringIO
) -> None:
    graph_id = new_graph_id()
    schema = task_out(new_task_id(), key="schema", state=TaskState.COMPLETED, graph_id=graph_id)
    api = task_out(
        new_task_id(),
        key="api",
        depends_on=[schema.id],
        state=TaskState.AWAITING_APPROVAL,
        branch="codex-runner/very/long/branch/name/for/the/api/child",
        graph_id=graph_id,
    )
    parent = task_out(new_task_id(), depends_on=[schema.id, api.id], graph_id=graph_id)
    fake.graphs[graph_id] = GraphOut(
        id=graph_id, state=TaskState.RUNNING, parent=parent, children=[schema, api], blocked=[]
    )
    result = cli("graph", "status", graph_id)
    assert result.exit_code == 0, result.output
    title, header, *rows = lines_of(terminal)
    assert title == f"graph {graph_id}: running"
    assert header.split()[:3] == ["KEY", "TASK", "STATE"]
    assert [row.split()[:4] for row in rows] == [
        ["(parent)", parent.id, "queued", "schema,"],
        ["schema", schema.id, "completed", "-"],
        ["api", api.id, "awaiting_approval", "schema"],
    ]


def test_narrow_columns_are_dropped_in_rank_order_and_kept_columns_never_shrink() -> None:
    columns = (
        Column("ID"),
        Column("WHERE", Fit.SHORTEN, min_width=10, drop_rank=1),
        Column("WHAT", Fit.SHORTEN, min_width=10, drop_rank=2),
    )
    rows = [[Cell("x" * 20), Cell("w" * 30), Cell("p" * 30)]]
    assert fit_widths(columns, rows, 200) == [20, 30, 30]
    assert fit_widths(columns, rows, 60) == [20, 18, 18]
    assert fit_widths(columns, rows, 40) == [20, None, 18]
    assert fit_widths(columns, rows, 25) == [20, None, None]
    assert fit_widths(columns, rows, 19) is None  # not even the id: one block per row instead
