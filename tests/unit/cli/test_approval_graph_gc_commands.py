"""``codex-runner approvals|graph|gc`` against the fake daemon over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import ApprovalList, ApprovalOut, GcOut, GraphOut

from .conftest import APPROVAL, PATCH_APPROVAL, CliRun, FakeDaemon, one_error_line, task_out

# --- approvals -----------------------------------------------------------------------------


def test_approvals_list_shows_what_is_asked_and_the_offered_decisions(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.approvals = {"a_1": APPROVAL, "a_2": PATCH_APPROVAL}
    result = cli("approvals", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "TASK", "KIND", "COMMAND", "/", "FILES", "CWD", "DECISIONS"]
    assert "a_1" in lines[1] and "rm -rf build" in lines[1] and "accept, decline" in lines[1]
    assert "update src/app.py" in lines[2] and "acceptForSession" in lines[2]
    assert fake.bodies("GET", "/v1/approvals") == [{"state": "pending"}]
    as_json = cli("approvals", "list", "--json")
    assert ApprovalList.model_validate_json(as_json.stdout).approvals == [APPROVAL, PATCH_APPROVAL]


def test_no_pending_approvals_is_the_header_alone_in_a_pipe(cli: CliRun, fake: FakeDaemon) -> None:
    result = cli("approvals", "list")
    assert result.exit_code == 0
    assert result.stdout == "ID\tTASK\tKIND\tCOMMAND / FILES\tCWD\tDECISIONS\n"


def test_approvals_decide_sends_the_decision_and_who(cli: CliRun, fake: FakeDaemon) -> None:
    fake.approvals = {"a_1": APPROVAL}
    result = cli("approvals", "decide", "a_1", "accept", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert "approval a_1 (command, task t_1): accept by alice" in result.stdout
    assert fake.bodies("POST", "/v1/approvals/a_1") == [{"decision": "accept", "by": "alice"}]
    fake.approvals = {"a_1": APPROVAL}
    as_json = cli("approvals", "decide", "a_1", "decline", "--json")
    decided = ApprovalOut.model_validate_json(as_json.stdout)
    assert decided.decision == "decline"
    assert decided.decided_by  # the local user name by default


def test_a_decision_the_server_refuses_is_its_message_on_one_line(
    cli: CliRun, fake: FakeDaemon
) -> None:
    fake.approvals = {"a_1": APPROVAL}
    result = cli("approvals", "decide", "a_1", "maybe later")
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "error: approval a_1 does not offer 'maybe later'; it offers: accept, decline "
        "(field: decision)"
    )


# --- graphs --------------------------------------------------------------------------------

new_graph_id = IdGenerator().graph_id

YAML_SPEC = """\
prompt: Merge the pieces and write a summary.
cwd: work
priority: 2
children:
  - key: schema
    prompt: Design the schema.
  - key: api
    prompt: Build the API.
    depends_on: [schema]
"""


def test_graph_start_from_yaml_resolves_paths_against_the_spec_file(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "graph.yaml").write_text(YAML_SPEC)
    monkeypatch.chdir(tmp_path)
    result = cli("graph", "start", "--spec", "specs/graph.yaml")
    assert result.exit_code == 0, result.output
    assert "started graph g_1 with 2 children" in result.stdout
    [body] = fake.bodies("POST", "/v1/graphs")
    assert body == {
        "prompt": "Merge the pieces and write a summary.",
        "cwd": str(specs.resolve() / "work"),
        "priority": 2,
        "children": [
            {"key": "schema", "prompt": "Design the schema."},
            {"key": "api", "prompt": "Build the API.", "depends_on": ["schema"]},
        ],
    }


def test_graph_start_from_json_with_flags_that_win(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {
        "repo": "/elsewhere",
        "base_ref": "v1",
        "max_concurrent": 4,
        "children": [{"key": "only", "prompt": "Do it."}],
    }
    (tmp_path / "graph.json").write_text(json.dumps(spec))
    monkeypatch.chdir(tmp_path)
    result = cli(
        "graph",
        "start",
        "--spec",
        "graph.json",
        "--cwd",
        ".",
        "--base-ref",
        "main",
        "--max-concurrent",
        "1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    graph = GraphOut.model_validate_json(result.stdout)
    assert [c.key for c in graph.children] == ["only"]
    [body] = fake.bodies("POST", "/v1/graphs")
    assert body["cwd"] == str(tmp_path.resolve())
    assert "repo" not in body
    assert body["base_ref"] == "main"
    assert body["max_concurrent"] == 1


def test_graph_start_refuses_a_max_concurrent_below_one(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("children: [{key: a, prompt: x}]\n")
    result = cli("graph", "start", "--spec", str(tmp_path / "g.yaml"), "--max-concurrent", "0")
    assert result.exit_code == 2
    assert "--max-concurrent" in result.output


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("g.yaml", "prompt: x\n", "g.yaml: children: Field required"),
        ("g.yaml", "children: [\n", "g.yaml: not valid YAML:"),
        ("g.json", '{"children": ', "g.json: not valid JSON: Expecting value at line 1"),
        ("g.yaml", "- just\n- a list\n", "a graph spec is a mapping"),
        (
            "g.yaml",
            "children: [{key: a, prompt: p}]\nwhen: now\n",
            "g.yaml: unknown key 'when'",
        ),
        (
            "g.yaml",
            "children: [{key: a, depends_on: [b]}]\n",
            "g.yaml: children.0.prompt: Field required",
        ),
    ],
)
def test_a_bad_spec_file_is_one_line_naming_the_problem(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = cli("graph", "start", "--spec", str(path))
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert fake.requests == []


def test_a_missing_spec_file(cli: CliRun, fake: FakeDaemon, tmp_path: Path) -> None:
    result = cli("graph", "start", "--spec", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read it (No such file or directory)" in one_error_line(result)


def test_graph_status_lists_parent_then_children_and_marks_blocked_ones(
    cli: CliRun, fake: FakeDaemon
) -> None:
    parent = task_out("t_p", state=TaskState.QUEUED, graph_id="g_7")
    children = [
        task_out("t_s", key="schema", state=TaskState.FAILED, reason="tests fail", graph_id="g_7"),
        task_out(
            "t_a",
            key="api",
            depends_on=["t_s"],
            state=TaskState.QUEUED,
            branch="codex-runner/t_a",
            graph_id="g_7",
        ),
    ]
    for task in (parent, *children):
        fake.add_task(task)
    fake.graphs["g_7"] = GraphOut(
        id="g_7", state=TaskState.FAILED, parent=parent, children=children, blocked=["t_a"]
    )
    result = cli("graph", "status", "g_7")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows == [
        ["KEY", "TASK", "STATE", "DEPENDS ON", "BRANCH", "NOTE"],
        ["(parent)", "t_p", "queued", "-", "-", ""],
        ["schema", "t_s", "failed", "-", "-", "tests fail"],
        ["api", "t_a", "queued", "schema", "codex-runner/t_a", "blocked"],
    ]
    as_json = cli("graph", "status", "g_7", "--json")
    assert GraphOut.model_validate_json(as_json.stdout) == fake.graphs["g_7"]


def test_an_unknown_graph(cli: CliRun, fake: FakeDaemon) -> None:
    graph_id = new_graph_id()
    result = cli("graph", "status", graph_id)
    assert result.exit_code == 1
    assert one_error_line(result) == f"error: no graph {graph_id}"
    prefix = cli("graph", "status", "g_nope")
    assert prefix.exit_code == 1
    assert "no graph id starts with 'g_nope'" in one_error_line(prefix)


# --- gc ------------------------------------------------------------------------------------


def test_gc_sends_retention_and_force_and_reports_removed_and_kept(
    cli: CliRun, fake: FakeDaemon
) -> None:
    result = cli("gc", "--retention", "3600", "--force")
    assert result.exit_code == 0, result.output
    assert "removed 1 worktree(s)" in result.stdout
    assert "- t_old /home/u/worktrees/t_old (branch codex-runner/t_old deleted)" in result.stdout
    assert "t_wip: unmerged (2 commits ahead)" in result.stdout
    assert fake.bodies("POST", "/v1/gc") == [{"retention_s": 3600.0, "force": True}]
    as_json = cli("gc", "--json")
    assert GcOut.model_validate_json(as_json.stdout).removed == ["t_old"]
    assert fake.bodies("POST", "/v1/gc")[1] == {}
