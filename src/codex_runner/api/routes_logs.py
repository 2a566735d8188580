"""``GET /v1/logs``: the layered logs over HTTP, for the admin page's live tail and tools.

Without a cursor the answer is the last ``limit`` matching records (like ``codex-runner
logs``); each answer carries a ``cursor``, and asking again with it returns only the records
written since, so a client tails the log by polling, across the hour boundary. No stream
stays open, so nothing holds the daemon's shutdown.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field
from starlette.responses import Response

from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router, model_response
from codex_runner.logs import LEVELS, LogLayout, LogQuery, Tail
from codex_runner.logs.since import parse_since

MAX_PAGE = 5_000


class LogsOut(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="Oldest first: at, level, logger, message, task_id / session_key when "
        "known, exception; a task's events have seq, type and data too."
    )
    cursor: str | None = Field(
        description="Pass it back as ?cursor= to get only what was written since."
    )


def log_routes(logs_dir: Path) -> Router:
    """The routes over the layered logs under ``logs_dir`` (redacted when written)."""
    router = Router(tags=["logs"], responses=ERROR_RESPONSES)
    layout = LogLayout(logs_dir)

    @router.get("/v1/logs", response=LogsOut)
    async def logs(
        task: Annotated[str | None, Field(max_length=200, description="A task's log.")] = None,
        session: Annotated[
            str | None, Field(max_length=200, description="A chat session's log.")
        ] = None,
        level: Annotated[
            str | None, Field(description=f"The lowest level: {', '.join(LEVELS)}.")
        ] = None,
        since: Annotated[
            str | None, Field(max_length=64, description="A duration back (15m, 1h) or a time.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 200,
        cursor: Annotated[str | None, Field(max_length=64)] = None,
    ) -> Response:
        """The runner's log (or a task's or chat session's), filtered; see the cursor."""
        try:
            query = LogQuery(
                task=task,
                session=session,
                level=level,
                since=parse_since(since, time.time()) if since is not None else None,
                limit=limit,
            )
            if cursor is None:
                tail = Tail(layout, query, from_start=True)
            else:
                tail = Tail.resume(layout, query, cursor)
        except ValueError as exc:
            return error_response(422, "invalid_query", str(exc))
        # Reading files is blocking work: off the event loop.
        records = await asyncio.to_thread(tail.poll)
        return model_response(LogsOut(records=records, cursor=tail.cursor))

    return router
