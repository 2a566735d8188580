"""Schemathesis over the OpenAPI document: generated requests never get a 5xx.

The service is not started (tasks stay queued), so every answer comes from the routes and
the service's validation. The event stream is left out: a stream of a live task does not
end, and its 4xx cases are covered in test_event_stream.py.

The schema is loaded at import: schemathesis's fixture-based (lazy) loader does not work
with the installed pytest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from codex_runner.api.app import create_app

from .conftest import AUTH, TOKEN, make_service

# Worktrees are never created (the scheduler does not run); the root only has to exist.
_service, *_ = make_service(Path(tempfile.gettempdir()) / "codex-runner-api-fuzz")
_app = create_app(_service, token=TOKEN, ready=lambda: True)

schema = schemathesis.openapi.from_asgi("/openapi.json", _app, headers=AUTH).exclude(
    path="/v1/tasks/{task_id}/events/stream"
)


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
