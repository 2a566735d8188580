"""``codex-runner task ...`` against the fake daemon over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from codex_runner.cli import event_stream, exit_codes
from codex_runner.domain.events import (
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    FileChange,
    Item,
    ItemType,
)
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import DiffOut, EventOut
from codex_runner.http.wire_tasks import TaskList, TaskOut

from .conftest import (
    CliRun,
    FakeDaemon,
    StreamPlan,
    event_out,
    free_port,
    make_cli,
    make_home,
    one_error_line,
    task_out,
)


def codex(task_id: str, seq: int, event: CodexEvent) -> EventOut:
    return event_out(task_id, seq, f"codex.{event.kind.value}", event.to_dict())


def history(task_id: str) -> list[EventOut]:
    """A task's life: created, running, Codex at work, an approval, completed."""
    return [
        event_out(task_id, 1, "task.created", {"prompt": "fix the bug"}),
        event_out(task_id, 2, "task.state_changed", {"from": "queued", "to": "running"}),
        codex(
            task_id,
            3,
            CodexEvent(
                EventKind.ITEM_COMPLETED,
                item=Item(
                    id="c1",
                    type=ItemType.COMMAND_EXECUTION,
                    command="pytest -q",
                    exit_code=1,
                    output="1 failed",
                ),
            ),
        ),
        codex(
            task_id,
            4,
            CodexEvent(
                EventKind.ITEM_COMPLETED,
                item=Item(
                    id="f1",
                    type=ItemType.FILE_CHANGE,
                    changes=(FileChange(path="src/app.py", kind="update"),),
                ),
            ),
        ),
        event_out(
            task_id,
            5,
            "approval.requested",
            {
                "approval_id": "a_9",
                "kind": "command",
                "command": "git push",
                "available_decisions": ["accept", "decline"],
            },
        ),
        codex(
            task_id,
            6,
            CodexEvent(
                EventKind.ERROR,
                error=ErrorInfo("model overloaded", FailureClass.MODEL_ERROR, will_retry=True),
            ),
        ),
        codex(
            task_id,
            7,
            CodexEvent(
                EventKind.ITEM_COMPLETED,
                item=Item(id="m1", type=ItemType.AGENT_MESSAGE, text="Fixed the off-by-one."),
            ),
        ),
        event_out(task_id, 8, "task.state_changed", {"from": "running", "to": "completed"}),
    ]


# --- submit --------------------------------------------------------------------------------


def test_submit_with_cwd_sends_an_absolute_directory(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path)
    result = cli("task", "submit", "fix the bug", "--cwd", "work", "--priority", "5")
    assert result.exit_code == 0, result.output
    assert "submitted task t_1" in result.stdout
    [body] = fake.bodies("POST", "/v1/tasks")
    assert body == {"prompt": "fix the bug", "cwd": str(tmp_path / "work"), "priority": 5}


def test_submit_with_repo_and_every_option_as_json(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(
        "task",
        "submit",
        "add tests",
        "--repo",
        ".",
        "--base-ref",
        "main",
        "--model",
        "gpt-5",
        "--effort",
        "high",
        "--sandbox",
        "read-only",
        "--approval-policy",
        "on-request",
        "--max-runtime",
        "600",
        "--idempotency-key",
        "k1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    task = TaskOut.model_validate_json(result.stdout)
    assert task.repo == str(tmp_path.resolve())
    [body] = fake.bodies("POST", "/v1/tasks")
    assert body == {
        "prompt": "add tests",
        "repo": str(tmp_path.resolve()),
        "base_ref": "main",
        "model": "gpt-5",
        "effort": "high",
        "sandbox": "read-only",
        "approval_policy": "on-request",
        "max_runtime_s": 600.0,
        "idempotency_key": "k1",
    }


def test_resubmitting_an_idempotency_key_says_it_was_already_submitted(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    args = ("task", "submit", "once", "--cwd", str(tmp_path), "--idempotency-key", "k")
    assert cli(*args).exit_code == 0
    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert "t_1 was already submitted" in again.stdout
    assert len(fake.tasks) == 1


@pytest.mark.parametrize("workspace", [[], ["--repo", ".", "--cwd", "."]])
def test_submit_needs_exactly_one_workspace(
    cli: CliRun, fake: FakeDaemon, workspace: list[str]
) -> None:
    result = cli("task", "submit", "fix it", *workspace)
    assert result.exit_code == 2
    assert "exactly one workspace: --repo DIR" in one_error_line(result)
    assert fake.requests == []


def test_submit_refuses_a_value_outside_the_contract_naming_the_flag(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    result = cli("task", "submit", "x", "--cwd", str(tmp_path), "--sandbox", "yolo")
    assert result.exit_code == 2
    assert one_error_line(result).startswith("error: --sandbox: Input should be 'read-only'")
    assert fake.requests == []


def test_submit_follow_streams_the_task_to_its_end(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    result = cli("task", "submit", "fix the bug", "--cwd", str(tmp_path), "--follow")
    assert result.exit_code == 0, result.output
    assert "submitted task t_1" in result.stdout
    assert "task t_1 completed" in result.stdout
    assert fake.streams[0]["until_terminal"] is True


# --- list / show ---------------------------------------------------------------------------


def test_list_shows_a_table_and_passes_states_and_paging(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(
        task_out(
            "t_a",
            state=TaskState.RUNNING,
            repo="/src/project",
            cwd=None,
            branch="codex-runner/t_a",
            prompt="refactor   the\nparser",
            priority=3,
        )
    )
    fake.add_task(task_out("t_b", state=TaskState.FAILED, cwd="/tmp/scratch"))
    result = cli("task", "list", "--state", "running", "--state", "failed", "--limit", "10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "PRI", "WORKSPACE", "AGE", "TOKENS", "PROMPT"]
    assert "t_a" in lines[1] and "running" in lines[1]
    assert "/src/project @ codex-runner/t_a" in lines[1]
    assert "refactor the parser" in lines[1]
    assert "t_b" in lines[2] and "/tmp/scratch" in lines[2]
    [query] = fake.bodies("GET", "/v1/tasks")
    assert query == {"state": ["running", "failed"], "limit": 10, "offset": 0}


def test_list_json_is_the_task_list(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a"))
    result = cli("task", "list", "--json")
    assert result.exit_code == 0, result.output
    assert [t.id for t in TaskList.model_validate_json(result.stdout).tasks] == ["t_a"]


def test_list_refuses_an_unknown_state(cli: CliRun, fake: FakeDaemon) -> None:
    result = cli("task", "list", "--state", "sleeping")
    assert result.exit_code == 2
    assert fake.requests == []


def test_show_renders_the_task_and_its_final_message(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(
        task_out(
            "t_a",
            state=TaskState.FAILED,
            reason="tests still fail",
            final_message="I could not fix **it**.",
            depends_on=["lint"],
        )
    )
    result = cli("task", "show", "t_a")
    assert result.exit_code == 0, result.output
    for text in ("t_a", "failed", "tests still fail", "depends on", "lint", "I could not fix"):
        assert text in result.stdout
    as_json = cli("task", "show", "t_a", "--json")
    assert TaskOut.model_validate_json(as_json.stdout).reason == "tests still fail"


def test_an_unknown_task_is_the_daemons_message_on_one_line(cli: CliRun, fake: FakeDaemon) -> None:
    task_id = new_task_id()
    result = cli("task", "show", task_id)
    assert result.exit_code == 1
    assert one_error_line(result) == f"error: no task {task_id}"


def test_any_unique_prefix_names_a_task_in_every_command(cli: CliRun, fake: FakeDaemon) -> None:
    first, second = new_task_id(), new_task_id()
    fake.add_task(task_out(first, state=TaskState.RUNNING))
    fake.add_task(task_out(second, state=TaskState.RUNNING))
    differs = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    shared = first[:differs]
    unique = second[: len(shared) + 1]
    shown = cli("task", "show", unique, "--json")
    assert shown.exit_code == 0, shown.output
    assert TaskOut.model_validate_json(shown.stdout).id == second
    # without the kind prefix too
    assert cli("task", "interrupt", unique.removeprefix("t_")).exit_code == 0
    assert fake.tasks[second].state is TaskState.INTERRUPTED
    assert fake.tasks[first].state is TaskState.RUNNING
    ambiguous = cli("task", "cancel", shared)
    assert ambiguous.exit_code == 1
    line = one_error_line(ambiguous)
    assert f"{shared!r} is the start of 2 task ids ({first}, {second})" in line
    assert "give more characters" in line
    unknown = cli("task", "logs", "t_zz")
    assert unknown.exit_code == 1
    assert one_error_line(unknown) == (
        "error: no task id starts with 't_zz'; see `codex-runner task list`"
    )


# --- logs ----------------------------------------------------------------------------------


def test_logs_render_codex_and_runner_events_readably(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.COMPLETED), history("t_a"))
    result = cli("task", "logs", "t_a")
    assert result.exit_code == 0, result.output
    out = result.stdout
    expected = [
        "task t_a created: fix the bug",
        "→ running",
        "1 failed",
        "exit 1",
        "✎ update src/app.py",
        "? approval a_9 (command): git push",
        "codex-runner approvals decide a_9 accept|decline",
        "error (Codex retries): model overloaded",
        "Fixed the off-by-one.",
        "→ completed",
    ]
    positions = [out.index(text) for text in expected]
    assert positions == sorted(positions)


def test_logs_json_prints_one_event_per_line(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.COMPLETED), history("t_a"))
    result = cli("task", "logs", "t_a", "--json")
    assert result.exit_code == 0, result.output
    events = [EventOut.model_validate_json(line) for line in result.stdout.splitlines()]
    assert [e.seq for e in events] == list(range(1, 9))
    assert [e.model_dump(mode="json") for e in events] == [
        e.model_dump(mode="json") for e in history("t_a")
    ]


def test_logs_follow_resumes_after_a_dropped_connection_without_duplicates(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.plans["t_a"] = StreamPlan(drop_after=3, repeat=2)
    result = cli("task", "logs", "t_a", "--follow", "--json")
    assert result.exit_code == 0, result.output
    seqs = [EventOut.model_validate_json(line).seq for line in result.stdout.splitlines()]
    assert seqs == list(range(1, 9))
    assert len(fake.streams) == 2
    assert fake.streams[0]["last_event_id"] == "0"
    assert fake.streams[1]["last_event_id"] == "3"
    assert all(s["until_terminal"] for s in fake.streams)


def test_logs_follow_renders_until_the_task_ends(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.plans["t_a"] = StreamPlan(drop_after=5)
    result = cli("task", "logs", "t_a", "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("? approval a_9") == 1
    assert result.stdout.count("Fixed the off-by-one.") == 1
    assert "task t_a completed" in result.stdout


def test_logs_follow_prints_the_answer_as_it_streams_and_not_again(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.deltas["t_a"] = {
        2: [{"item_id": "c1", "kind": "command_output", "text": "1 fail"}],
        6: [
            {"item_id": "m1", "kind": "agent_message", "text": "Fixed the "},
            {"item_id": "m1", "kind": "agent_message", "text": "off-by"},
        ],
    }
    result = cli("task", "logs", "t_a", "--follow")
    assert result.exit_code == 0, result.output
    assert fake.streams[0]["deltas"] is True
    out = result.stdout
    assert out.count("Fixed the off-by-one.") == 1
    assert "codex: Fixed the off-by-one.\n" in out  # the rest, after what streamed
    assert out.count("1 failed") == 1  # streamed "1 fail", completed with the rest of it
    assert out.index("codex: Fixed") < out.index("→ completed")


def test_logs_follow_no_deltas_asks_for_none_and_prints_completed_items(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.deltas["t_a"] = {6: [{"item_id": "m1", "kind": "agent_message", "text": "Fixed"}]}
    result = cli("task", "logs", "t_a", "--follow", "--no-deltas")
    assert result.exit_code == 0, result.output
    assert fake.streams[0]["deltas"] is False
    assert "codex:" not in result.stdout
    assert result.stdout.count("Fixed the off-by-one.") == 1


def test_logs_follow_json_stays_one_durable_event_per_line(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.deltas["t_a"] = {6: [{"item_id": "m1", "kind": "agent_message", "text": "Fixed"}]}
    result = cli("task", "logs", "t_a", "--follow", "--json")
    assert result.exit_code == 0, result.output
    assert fake.streams[0]["deltas"] is False
    seqs = [EventOut.model_validate_json(line).seq for line in result.stdout.splitlines()]
    assert seqs == list(range(1, 9))


def test_following_a_task_that_fails_exits_1_with_its_reason(cli: CliRun, fake: FakeDaemon) -> None:
    events = [
        event_out("t_a", 1, "task.created", {"prompt": "x"}),
        event_out("t_a", 2, "task.state_changed", {"to": "failed", "reason": "tests fail"}),
    ]
    fake.add_task(task_out("t_a", state=TaskState.RUNNING, reason="tests fail"), events)
    fake.plans["t_a"] = StreamPlan(settle=TaskState.FAILED)
    result = cli("task", "logs", "t_a", "-f")
    assert result.exit_code == 1
    assert "→ failed (tests fail)" in result.stdout
    assert one_error_line(result) == "error: task t_a failed: tests fail"


def test_following_a_finished_task_reads_what_the_stream_did_not_send(
    cli: CliRun, fake: FakeDaemon
) -> None:
    # The stream ends early (the task already settled); the rest comes from the event pages.
    fake.add_task(task_out("t_a", state=TaskState.COMPLETED), history("t_a"))
    fake.plans["t_a"] = StreamPlan(drop_after=2, repeat=0)
    result = cli("task", "logs", "t_a", "--follow", "--json")
    assert result.exit_code == 0, result.output
    seqs = [EventOut.model_validate_json(line).seq for line in result.stdout.splitlines()]
    assert seqs == list(range(1, 9))
    assert len(fake.streams) == 1


# --- control -------------------------------------------------------------------------------


def test_interrupt_cancel_resume_steer_and_message(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING))
    steered = cli("task", "steer", "t_a", "also update the docs")
    assert steered.exit_code == 0, steered.output
    assert "task t_a: running" in steered.stdout
    interrupted = cli("task", "interrupt", "t_a")
    assert "task t_a: interrupted" in interrupted.stdout
    resumed = cli("task", "resume", "t_a", "carry on", "--json")
    assert TaskOut.model_validate_json(resumed.stdout).state is TaskState.QUEUED
    assert cli("task", "resume", "t_a").exit_code == 0
    messaged = cli("task", "message", "t_a", "one more thing")
    assert "task t_a: queued" in messaged.stdout
    cancelled = cli("task", "cancel", "t_a")
    assert "task t_a: cancelled" in cancelled.stdout
    assert fake.bodies("POST", "/v1/tasks/t_a/steer") == [{"prompt": "also update the docs"}]
    assert fake.bodies("POST", "/v1/tasks/t_a/resume") == [{"prompt": "carry on"}, {}]
    assert fake.bodies("POST", "/v1/tasks/t_a/message") == [{"prompt": "one more thing"}]
    refused = cli("task", "interrupt", "t_a")
    assert refused.exit_code == 1
    assert one_error_line(refused) == "error: cannot interrupt task t_a: it is cancelled"


# --- diff ----------------------------------------------------------------------------------

new_task_id = IdGenerator().task_id

DIFF = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1 +1 @@
-print('hi')
+print('hello')
"""


def test_diff_prints_the_unified_diff_unchanged_when_piped(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a"))
    fake.diffs["t_a"] = DiffOut(task_id="t_a", branch="b", summary="1 file", diff=DIFF)
    result = cli("task", "diff", "t_a")
    assert result.exit_code == 0, result.output
    assert result.stdout == DIFF
    as_json = cli("task", "diff", "t_a", "--json")
    assert DiffOut.model_validate_json(as_json.stdout).diff == DIFF


def test_an_empty_diff_says_so_on_stderr(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a"))
    fake.diffs["t_a"] = DiffOut(task_id="t_a", branch=None, summary=None, diff="")
    result = cli("task", "diff", "t_a")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no changes" in result.stderr


def test_a_collected_workspace_says_gc_removed_it_not_no_changes(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.add_task(task_out("t_a"))
    fake.diffs["t_a"] = DiffOut(
        task_id="t_a",
        branch="codex-runner/t_a",
        summary="1 file changed",
        diff="",
        collected=True,
        collected_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    result = cli("task", "diff", "t_a")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "workspace collected by gc at 2026-01-0" in result.stderr
    assert "codex-runner/t_a" in result.stderr
    assert "no changes" not in result.stderr


def test_following_when_the_daemon_keeps_dropping_the_stream_exits_5_with_one_line(
    cli: CliRun, fake: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "RECONNECT_BASE_DELAY_S", 0.001)
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), history("t_a"))
    fake.plans["t_a"] = StreamPlan(drop_after=2, always_drop=True, settle=TaskState.RUNNING)
    result = cli("task", "logs", "t_a", "--follow", "--json")
    assert result.exit_code == exit_codes.DAEMON_LOST
    line = one_error_line(result)
    assert f"lost the daemon at {fake.url} while following task t_a" in line
    assert line.endswith("see the task with: codex-runner task show t_a")
    assert len(fake.streams) == event_stream.MAX_RECONNECTS + 1


def test_following_a_daemon_that_is_gone_exits_5_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "RECONNECT_BASE_DELAY_S", 0.001)
    url = f"http://127.0.0.1:{free_port()}"
    task_id = new_task_id()
    result = make_cli(make_home(tmp_path / "home"))("task", "logs", task_id, "-f", "--url", url)
    assert result.exit_code == exit_codes.DAEMON_LOST
    assert f"cannot reach the daemon at {url}" in one_error_line(result)


def test_an_interrupted_task_with_a_reconcile_event_ends_the_follow_with_3(
    cli: CliRun, fake: FakeDaemon
) -> None:
    events = [
        event_out("t_a", 1, "task.created", {"prompt": "x"}),
        event_out("t_a", 2, "task.state_changed", {"to": "running"}),
        event_out("t_a", 3, "task.reconciled", {"to": "interrupted", "reason": "daemon restart"}),
    ]
    fake.add_task(task_out("t_a", state=TaskState.INTERRUPTED), events)
    fake.plans["t_a"] = StreamPlan(settle=TaskState.INTERRUPTED)
    result = cli("task", "logs", "t_a", "--follow")
    assert result.exit_code == exit_codes.INTERRUPTED, result.output
    assert result.stderr.strip() == (
        "task t_a was interrupted (reason: daemon restart); "
        "resume it with: codex-runner task resume t_a"
    )
