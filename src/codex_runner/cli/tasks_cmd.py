"""``codex-runner task ...``: submit, watch and steer tasks of the running daemon."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from codex_runner.cli import task_options
from codex_runner.cli.attach_cmd import attach
from codex_runner.cli.daemon_session import UrlOption, daemon_session, request_body
from codex_runner.cli.follow import (
    NO_DELTAS_HELP,
    WAIT_APPROVAL_HELP,
    as_task_event,
    follow_task,
)
from codex_runner.cli.id_prefix import resolve_task_id
from codex_runner.cli.render import (
    STATE_STYLES,
    TaskEventView,
    error_exit,
    print_model_json,
    styled_state,
)
from codex_runner.cli.tables import Cell, Column, Fit, print_table
from codex_runner.cli.task_options import (
    Images,
    OutputSchema,
    Summary,
    TurnApprovalPolicy,
    TurnCwd,
    TurnEffort,
    TurnModel,
    TurnSandbox,
)
from codex_runner.cli.task_view import (
    age,
    diff_style,
    print_task_state,
    render_task,
    task_root,
    workspace_label,
)
from codex_runner.cli.turns_cmd import turns
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import MessageBody, PromptBody, ResumeBody, TaskCreate

task_app = typer.Typer(
    name="task",
    help="Submit, follow and steer tasks run by the daemon (`codex-runner serve`).",
    no_args_is_help=True,
)
out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
TaskId = Annotated[
    str, typer.Argument(help="The task's id, or any unique prefix of it.", show_default=False)
]
SUBMIT_FLAGS = {
    "prompt": "PROMPT",
    "max_runtime_s": "--max-runtime",
    "repo": "--repo",
    "cwd": "--cwd",
    "thread_id": "--thread",
    "input": "--image",
}
PROMPT_FLAGS = {"prompt": "PROMPT", "input": "--image"}
TASK_COLUMNS = (
    Column("ID"),
    Column("STATE"),
    Column("PRI"),
    Column("WORKSPACE", Fit.SHORTEN, min_width=12, drop_rank=1),
    Column("AGE"),
    Column("TOKENS"),
    Column("PROMPT", Fit.SHORTEN, min_width=12, drop_rank=2),
)
NoWaitApproval = Annotated[
    bool, typer.Option("--no-wait-approval", help=WAIT_APPROVAL_HELP, show_default=False)
]
NoDeltas = Annotated[bool, typer.Option("--no-deltas", help=NO_DELTAS_HELP, show_default=False)]


def resolve_dir(path: Path | None) -> str | None:
    """An absolute path for the daemon, which does not share our working directory."""
    return None if path is None else str(path.expanduser().resolve())


@task_app.command("submit")
def submit(
    prompt: Annotated[str, typer.Argument(help="What Codex should do.", show_default=False)],
    repo: Annotated[
        Path | None, typer.Option(help="A git repository: the task runs in its own worktree.")
    ] = None,
    cwd: Annotated[
        Path | None, typer.Option(help="A directory the task runs in, in place (no worktree).")
    ] = None,
    base_ref: Annotated[
        str | None, typer.Option(help="Commit-ish the worktree starts from (default HEAD).")
    ] = None,
    priority: Annotated[int | None, typer.Option(help="Higher runs first (default 0).")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    effort: Annotated[str | None, typer.Option(help="Reasoning effort.")] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="read-only | workspace-write | danger-full-access.")
    ] = None,
    approval_policy: Annotated[
        str | None, typer.Option(help="untrusted | on-request | never.")
    ] = None,
    max_runtime: Annotated[
        float | None, typer.Option(help="Seconds the task may run.", show_default=False)
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Submitting the same key again returns the same task.")
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option(
            "--thread", help="Adopt this existing Codex thread (see `threads list`) as the task's."
        ),
    ] = None,
    developer_instructions: task_options.DeveloperInstructions = None,
    base_instructions: task_options.BaseInstructions = None,
    personality: task_options.Personality = None,
    service_tier: task_options.ServiceTier = None,
    model_provider: task_options.ModelProvider = None,
    config: task_options.ConfigPairs = None,
    runtime: task_options.RuntimeKind = None,
    ephemeral: task_options.Ephemeral = False,
    purpose: task_options.Purpose = None,
    metadata: task_options.MetadataPairs = None,
    output_schema: OutputSchema = None,
    summary: Summary = None,
    turn_cwd: task_options.FirstTurnCwd = None,
    image: Images = None,
    follow: Annotated[
        bool, typer.Option(help="Stream the task's events until it ends or needs a person.")
    ] = False,
    no_wait_approval: NoWaitApproval = False,
    no_deltas: NoDeltas = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Queue a task: a prompt and a workspace (--repo or --cwd)."""
    if (repo is None) == (cwd is None):
        raise error_exit(
            "give exactly one workspace: --repo DIR (a git worktree per task) "
            "or --cwd DIR (run in place)",
            2,
        )
    root = resolve_dir(repo) or resolve_dir(cwd)
    body = request_body(
        TaskCreate,
        {
            **task_options.turn_input(prompt, image, root),
            "repo": resolve_dir(repo),
            "cwd": resolve_dir(cwd),
            "base_ref": base_ref,
            "priority": priority,
            "model": model,
            "effort": effort,
            "sandbox": sandbox,
            "approval_policy": approval_policy,
            "max_runtime_s": max_runtime,
            "idempotency_key": idempotency_key,
            "thread_id": thread,
            **task_options.session_fields(
                developer_instructions=developer_instructions,
                base_instructions=base_instructions,
                personality=personality,
                service_tier=service_tier,
                model_provider=model_provider,
                config=config,
                runtime=runtime,
                ephemeral=ephemeral,
                purpose=purpose,
                metadata=metadata,
            ),
            "output_schema": task_options.output_schema("--output-schema", output_schema),
            "summary": summary,
            "turn_cwd": task_options.turn_dir(turn_cwd, root),
        },
        SUBMIT_FLAGS,
    )
    with daemon_session(url) as client:
        task, created = client.submit_task(body)
        if json_output and not follow:
            print_model_json(task)
            return
        if not json_output:
            if created:
                out.print(f"submitted task [bold]{task.id}[/] ({styled_state(task.state)})")
            else:
                out.print(
                    f"task [bold]{task.id}[/] was already submitted with this idempotency key "
                    f"({styled_state(task.state)})"
                )
        if follow:
            follow_task(
                client,
                task.id,
                json_output=json_output,
                wait_for_approval=not no_wait_approval,
                deltas=not no_deltas,
            )


# `task attach` lives in its own module (it runs the Codex TUI).
task_app.command("attach")(attach)
task_app.command("turns")(turns)


@task_app.command("list")
def list_tasks(
    state: Annotated[
        list[TaskState] | None,
        typer.Option(help="Only tasks in this state (repeat for several).", show_default=False),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many tasks.")] = None,
    offset: Annotated[int | None, typer.Option(help="Skip this many tasks.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Only tasks with this purpose.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata",
            help="Only tasks whose metadata KEY holds VALUE (KEY=VALUE; repeat: all must hold).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List tasks, newest first as the daemon orders them."""
    wanted = task_options.key_values("--metadata", metadata, json_values=False)
    with daemon_session(url) as client:
        result = client.list_tasks(
            [s.value for s in state or ()],
            limit=limit,
            offset=offset,
            purpose=purpose,
            metadata=wanted,
        )
    if json_output:
        print_model_json(result)
        return
    now = datetime.now(UTC)
    rows = [
        (
            t.id,
            Cell(t.state.value, STATE_STYLES.get(t.state.value, "")),
            str(t.priority),
            workspace_label(t),
            age(t.created_at, now),
            str(t.usage.total_tokens),
            " ".join(t.prompt.split()),
        )
        for t in result.tasks
    ]
    print_table(out, TASK_COLUMNS, rows, empty="no tasks")


@task_app.command("show")
def show(task_id: TaskId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Everything the daemon knows about one task."""
    with daemon_session(url) as client:
        task = client.get_task(resolve_task_id(client, task_id))
    if json_output:
        print_model_json(task)
        return
    render_task(out, task)


@task_app.command("logs")
def logs(
    task_id: TaskId,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep streaming until the task ends or needs a person."
        ),
    ] = False,
    no_wait_approval: NoWaitApproval = False,
    no_deltas: NoDeltas = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="One API event (EventOut) JSON per line.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """A task's event history, readable (or JSON lines); --follow streams it live, with
    the answer and command output printed as they stream (unless --no-deltas)."""
    with daemon_session(url) as client:
        task_id = resolve_task_id(client, task_id)
        if follow:
            follow_task(
                client,
                task_id,
                json_output=json_output,
                wait_for_approval=not no_wait_approval,
                deltas=not no_deltas,
            )
            return
        view = TaskEventView(out)
        for event in client.all_events(task_id):
            if json_output:
                print_model_json(event)
            else:
                view(as_task_event(event))


@task_app.command("interrupt")
def interrupt(task_id: TaskId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Stop the task's current turn; it keeps its thread and workspace for `task resume`."""
    with daemon_session(url) as client:
        print_task_state(out, client.interrupt(resolve_task_id(client, task_id)), json_output)


@task_app.command("cancel")
def cancel(task_id: TaskId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Cancel the task for good."""
    with daemon_session(url) as client:
        print_task_state(out, client.cancel(resolve_task_id(client, task_id)), json_output)


@task_app.command("resume")
def resume(
    task_id: TaskId,
    prompt: Annotated[
        str | None, typer.Argument(help="What to say when it continues.", show_default=False)
    ] = None,
    model: TurnModel = None,
    effort: TurnEffort = None,
    summary: Summary = None,
    sandbox: TurnSandbox = None,
    approval_policy: TurnApprovalPolicy = None,
    cwd: TurnCwd = None,
    output_schema: OutputSchema = None,
    image: Images = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Queue an interrupted task again, on the same Codex thread (the options hold for the
    turn it runs)."""
    with daemon_session(url) as client:
        task_id = resolve_task_id(client, task_id)
        fields = task_options.turn_fields(
            prompt,
            model=model,
            effort=effort,
            summary=summary,
            sandbox=sandbox,
            approval_policy=approval_policy,
            cwd=cwd,
            schema=output_schema,
            images=image,
            task_root=lambda: task_root(client.get_task(task_id)),
        )
        body = request_body(ResumeBody, fields, PROMPT_FLAGS)
        print_task_state(out, client.resume(task_id, body), json_output)


@task_app.command("steer")
def steer(
    task_id: TaskId,
    prompt: Annotated[str, typer.Argument(help="Guidance for the running turn.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Add guidance to the task's running turn."""
    body = request_body(PromptBody, {"prompt": prompt}, PROMPT_FLAGS)
    with daemon_session(url) as client:
        print_task_state(out, client.steer(resolve_task_id(client, task_id), body), json_output)


@task_app.command("message")
def message(
    task_id: TaskId,
    prompt: Annotated[str, typer.Argument(help="The follow-up message.")],
    model: TurnModel = None,
    effort: TurnEffort = None,
    summary: Summary = None,
    sandbox: TurnSandbox = None,
    approval_policy: TurnApprovalPolicy = None,
    cwd: TurnCwd = None,
    output_schema: OutputSchema = None,
    image: Images = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Send a follow-up message: the task runs another turn on the same thread (the options
    hold for that turn only)."""
    with daemon_session(url) as client:
        task_id = resolve_task_id(client, task_id)
        fields = task_options.turn_fields(
            prompt,
            model=model,
            effort=effort,
            summary=summary,
            sandbox=sandbox,
            approval_policy=approval_policy,
            cwd=cwd,
            schema=output_schema,
            images=image,
            task_root=lambda: task_root(client.get_task(task_id)),
        )
        body = request_body(MessageBody, fields, PROMPT_FLAGS)
        print_task_state(out, client.message(task_id, body), json_output)


@task_app.command("diff")
def diff(task_id: TaskId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """The task's changes as a unified diff (coloured on a terminal)."""
    with daemon_session(url) as client:
        task_id = resolve_task_id(client, task_id)
        result = client.diff(task_id)
    if json_output:
        print_model_json(result)
        return
    if result.collected and result.collected_at is not None:
        at = result.collected_at.astimezone().isoformat(" ", "seconds")
        branch = result.branch or f"codex-runner/{result.task_id}"
        Console(stderr=True, highlight=False).print(
            f"workspace collected by gc at {at}; the branch {branch} was deleted with it"
            " (gc keeps unmerged work unless forced), so no diff is left"
        )
        return
    if not result.diff.strip():
        Console(stderr=True, highlight=False).print(f"[dim]task {task_id} has no changes[/]")
        return
    if out.is_terminal:
        for line in result.diff.splitlines():
            out.print(Text(line, style=diff_style(line)), soft_wrap=True)
    else:
        sys.stdout.write(result.diff if result.diff.endswith("\n") else result.diff + "\n")
        sys.stdout.flush()
