"""Request fields shaped into the service's values (Codex settings; the workspace fields go
through :func:`codex_runner.service.validation.workspace_request`), and the query and header
parameters every event history takes (a task's and a graph's alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from codex_runner.http.routing import Header
from codex_runner.http.wire import INT64_MAX

# ?after= of a page of events, and where a stream starts.
EventsAfter = Annotated[int, Field(ge=0, le=INT64_MAX, description="Events with a larger seq.")]
EventPageLimit = Annotated[int, Field(ge=1, le=1000)]
# A reconnecting EventSource's own resume point; it overrides ?after=.
LastEventId = Annotated[
    int | None,
    Header("Last-Event-ID"),
    Field(ge=0, le=INT64_MAX, description="Overrides after."),
]


def metadata_filter(query: Mapping[str, str]) -> dict[str, str]:
    """``metadata.KEY=VALUE`` query parameters as {KEY: VALUE} (each must match)."""
    return {
        name.removeprefix("metadata."): value
        for name, value in query.items()
        if name.startswith("metadata.") and len(name) > len("metadata.")
    }
