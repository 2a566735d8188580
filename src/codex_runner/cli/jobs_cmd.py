"""``codex-runner jobs start|list|logs|cancel|key``: background jobs (docs/jobs.md)."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_address import api_token
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.render import error_exit, print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.config import default_home
from codex_runner.domain.ids import TASK_PREFIX, is_id
from codex_runner.http.wire_jobs import JobIn, JobList, JobOut, JobOutput

jobs_app = typer.Typer(
    name="jobs", help="Background jobs: commands started from a task that report back to it."
)
out = Console(highlight=False)

JOB_COLUMNS = (
    Column("ID"),
    Column("TASK", drop_rank=3),
    Column("STATE"),
    Column("EXIT"),
    Column("STARTED", drop_rank=2),
    Column("NAME", Fit.SHORTEN, min_width=10, drop_rank=1),
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


def _jobs_path(job_id: str, action: str = "") -> str:
    return f"/v1/jobs/{quote(job_id, safe='')}{action}"


def start_job(client: DaemonClient, body: JobIn) -> JobOut:
    return client._call(JobOut, "POST", "/v1/jobs", body=body)


def list_jobs(client: DaemonClient, task_id: str | None) -> JobList:
    params: list[tuple[str, str | int]] = [] if task_id is None else [("task_id", task_id)]
    return client._call(JobList, "GET", "/v1/jobs", params=params)


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at.astimezone():%Y-%m-%d %H:%M:%S}"


def print_job(job: JobOut) -> None:
    said = f"job {job.id} {job.state}"
    if job.exit_code is not None:
        said += f" (exit code {job.exit_code})"
    if job.reason and job.exit_code is None:
        said += f": {job.reason}"
    out.print(escape(said))


@jobs_app.command(
    "start", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def start_command(
    ctx: typer.Context,
    task: Annotated[str, typer.Option("--task", help="The task the job reports back to.")],
    name: Annotated[str | None, typer.Option("--name", help="What lists show.")] = None,
    restartable: Annotated[
        bool, typer.Option("--restartable", help="Re-run once if a restart finds it gone.")
    ] = False,
    max_runtime: Annotated[
        float | None, typer.Option("--max-runtime", help="Seconds; stopped past it.", min=0.001)
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Start the command after ``--`` in the task's workspace, e.g.
    ``codex-runner jobs start --task T -- make test``."""
    command = list(ctx.args)
    if not command:
        raise error_exit("give the command after --, e.g. `jobs start --task T -- make test`", 2)
    body = JobIn(
        task_id=task,
        command=command,
        name=name,
        restartable=restartable,
        max_runtime_s=max_runtime,
    )
    with daemon_session(url) as client:
        job = start_job(client, body)
    if json_output:
        print_model_json(job)
        return
    out.print(escape(f"job {job.id} {job.state} (pid {job.pid}): {shlex.join(job.command)}"))


@jobs_app.command("list")
def list_command(
    task: Annotated[str | None, typer.Option("--task", help="Only this task's jobs.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Jobs newest first: state, exit code, when each started."""
    with daemon_session(url) as client:
        found = list_jobs(client, task)
    if json_output:
        print_model_json(found)
        return
    rows = [
        (
            j.id,
            j.task_id,
            j.state,
            "-" if j.exit_code is None else str(j.exit_code),
            _when(j.started_at),
            j.name,
        )
        for j in found.jobs
    ]
    print_table(out, JOB_COLUMNS, rows, empty="no jobs")


@jobs_app.command("logs")
def logs_command(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    tail_bytes: Annotated[
        int, typer.Option("--bytes", min=1, help="How much of the end of the output.")
    ] = 64 * 1024,
    url: UrlOption = None,
) -> None:
    """The end of the job's output (stdout and stderr), secrets masked."""
    params: list[tuple[str, str | int]] = [("tail_bytes", tail_bytes)]
    with daemon_session(url) as client:
        found = client._call(JobOutput, "GET", _jobs_path(job_id, "/logs"), params=params)
    typer.echo(found.output, nl=not found.output.endswith("\n"))


@jobs_app.command("cancel")
def cancel_command(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Stop the job's process group (SIGTERM, then SIGKILL after the grace)."""
    with daemon_session(url) as client:
        job = client._call(JobOut, "POST", _jobs_path(job_id, "/cancel"))
    if json_output:
        print_model_json(job)
        return
    print_job(job)


@jobs_app.command("key")
def key_command(
    task: Annotated[str, typer.Option("--task", help="The task's full id.")],
) -> None:
    """The task's job key, for the task's agent to send as X-Codex-Runner-Task-Key to
    POST /v1/jobs: it opens that task's jobs only, never the rest of the API."""
    from codex_runner.service.jobs import TaskKeys

    if not is_id(task, TASK_PREFIX):
        raise error_exit(f"--task: {task!r} is not a full task id (t_ and 26 characters)", 2)
    try:
        token = api_token(default_home())
    except ClientError as exc:
        raise error_exit(str(exc), 1) from None
    typer.echo(TaskKeys(token.encode()).key(task))
