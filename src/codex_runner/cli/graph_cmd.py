"""``codex-runner graph ...``: start a task graph from a spec file and watch it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.id_prefix import resolve_graph_or_task_id
from codex_runner.cli.render import STATE_STYLES, error_exit, print_model_json, styled_state
from codex_runner.cli.tables import Cell, Column, Fit, print_table
from codex_runner.cli.tasks_cmd import resolve_dir
from codex_runner.http.wire import GraphCreate, GraphOut
from codex_runner.http.wire_tasks import TaskOut

graph_app = typer.Typer(
    name="graph",
    help="Task graphs: a parent task with children that depend on each other.",
    no_args_is_help=True,
)
out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
PATH_KEYS = ("repo", "cwd")


@graph_app.command("start")
def start(
    spec: Annotated[
        Path,
        typer.Option(
            help="YAML or JSON: prompt, repo or cwd, base_ref, priority, max_concurrent, "
            "children: [{key, prompt, depends_on}].",
            show_default=False,
        ),
    ],
    repo: Annotated[
        Path | None, typer.Option(help="A git repository (overrides the spec's workspace).")
    ] = None,
    cwd: Annotated[
        Path | None, typer.Option(help="A directory to run in (overrides the spec's workspace).")
    ] = None,
    base_ref: Annotated[
        str | None, typer.Option(help="Commit-ish the worktrees start from.")
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="At most N children run at once (overrides the spec's max_concurrent).",
            metavar="N",
        ),
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Submit a graph: its children run in dependency order, the parent last."""
    if repo is not None and cwd is not None:
        raise error_exit("give at most one workspace: --repo DIR or --cwd DIR", 2)
    raw = load_spec(spec)
    if repo is not None or cwd is not None:
        raw.pop("repo", None)
        raw.pop("cwd", None)
        raw.update({"repo": resolve_dir(repo), "cwd": resolve_dir(cwd)})
    if base_ref is not None:
        raw["base_ref"] = base_ref
    if max_concurrent is not None:
        raw["max_concurrent"] = max_concurrent
    body = graph_request(spec, {k: v for k, v in raw.items() if v is not None})
    with daemon_session(url) as client:
        graph = client.create_graph(body)
    if json_output:
        print_model_json(graph)
        return
    out.print(f"started graph [bold]{graph.id}[/] with {len(graph.children)} children")
    render_graph(graph)


@graph_app.command("status")
def status(
    graph_id: Annotated[
        str,
        typer.Argument(
            help="The graph's id, or the id of one of its tasks, or a unique prefix of either.",
            show_default=False,
        ),
    ],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """The parent and its children in run order, with states and dependencies."""
    with daemon_session(url) as client:
        graph = client.get_graph(resolve_graph_or_task_id(client, graph_id))
    if json_output:
        print_model_json(graph)
        return
    render_graph(graph)


def load_spec(path: Path) -> dict[str, Any]:
    """The spec file as a mapping, relative workspace paths resolved against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error_exit(f"--spec {path}: cannot read it ({reason})", 2) from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise error_exit(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", 2
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise error_exit(f"{path}: not valid YAML: {problem}{where}", 2) from None
    if not isinstance(raw, dict):
        raise error_exit(
            f"{path}: a graph spec is a mapping with prompt, repo or cwd, and children; "
            f"found {type(raw).__name__}",
            2,
        )
    spec: dict[str, Any] = dict(raw)
    for key in PATH_KEYS:
        value = spec.get(key)
        if isinstance(value, str) and value:
            spec[key] = str((path.parent / Path(value).expanduser()).resolve())
    return spec


def graph_request(path: Path, spec: dict[str, Any]) -> GraphCreate:
    try:
        return GraphCreate.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"{path}: unknown key '{where}': remove it or fix its name"
            raise error_exit(message, 2) from None
        raise error_exit(f"{path}: {where or 'spec'}: {first['msg']}", 2) from None


GRAPH_COLUMNS = (
    Column("KEY"),
    Column("TASK"),
    Column("STATE"),
    Column("DEPENDS ON", Fit.WRAP, min_width=8),
    Column("BRANCH", Fit.SHORTEN, min_width=12, drop_rank=1),
    Column("NOTE", Fit.SHORTEN, min_width=7),
)


def render_graph(graph: GraphOut) -> None:
    """The parent, then the children in run order; dependencies by their keys."""
    if out.is_terminal:  # a pipe gets the table's lines alone (--json has the graph's state)
        limit = f" (at most {graph.max_concurrent} at once)" if graph.max_concurrent else ""
        out.print(f"graph [bold]{graph.id}[/]: {styled_state(graph.state)}{limit}")
    keys = {child.id: child.key or child.id for child in graph.children}
    blocked = set(graph.blocked)
    rows = [_row("(parent)", graph.parent, keys, blocked=False)]
    for child in graph.children:
        is_blocked = child.id in blocked or (child.key or "") in blocked
        rows.append(_row(child.key or "?", child, keys, blocked=is_blocked))
    print_table(out, GRAPH_COLUMNS, rows)


def _row(key: str, task: TaskOut, keys: dict[str, str], *, blocked: bool) -> tuple[str | Cell, ...]:
    note = "; ".join(x for x in ("blocked" if blocked else "", task.reason or "") if x)
    return (
        key,
        task.id,
        Cell(task.state.value, STATE_STYLES.get(task.state.value, "")),
        ", ".join(keys.get(dep, dep) for dep in task.depends_on) or "-",
        task.branch or "-",
        Cell(note, "bold red" if blocked else ""),
    )
