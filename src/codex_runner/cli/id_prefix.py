"""Any unique prefix of a task, approval or graph id stands for the whole id.

A complete id is used as given (the daemon answers for it); anything shorter is looked up
among the ids the daemon lists, so a prefix copied from a narrow table works as well as
the full id. The leading kind (``t_``, ``a_``, ``g_``) may be left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.domain.ids import APPROVAL_PREFIX, GRAPH_PREFIX, TASK_PREFIX, is_id
from codex_runner.http.wire_tasks import TaskOut

LIST_PAGE = 1000  # the most the list route returns at once
SHOWN_CANDIDATES = 5


class IdNotResolved(ClientError):
    """No id, or more than one, starts with what was given."""


def resolve_task_id(client: DaemonClient, given: str) -> str:
    """The task id ``given`` is a unique prefix of."""
    if is_id(given, TASK_PREFIX):
        return given
    return _unique("task", given, _task_ids(client), "codex-runner task list")


def resolve_approval_id(client: DaemonClient, given: str) -> str:
    """The pending approval id ``given`` is a unique prefix of (only pending approvals
    are listed; a complete id is passed on for the daemon to judge)."""
    if is_id(given, APPROVAL_PREFIX):
        return given
    pending = (a.id for a in client.approvals("pending").approvals)
    return _unique("pending approval", given, pending, "codex-runner approvals list")


def resolve_graph_id(client: DaemonClient, given: str) -> str:
    """The graph id ``given`` is a unique prefix of (graphs are found through their tasks)."""
    if is_id(given, GRAPH_PREFIX):
        return given
    graphs = {t.graph_id for t in _tasks(client) if t.graph_id}
    return _unique("graph", given, graphs, "codex-runner task list --json")


def resolve_graph_or_task_id(client: DaemonClient, given: str) -> str:
    """The graph id ``given`` is a unique prefix of, or else the task id (a task's id names
    its graph where the daemon takes either)."""
    if given.startswith(GRAPH_PREFIX):
        return resolve_graph_id(client, given)
    if given.startswith(TASK_PREFIX):
        return resolve_task_id(client, given)
    tasks = list(_tasks(client))
    graphs = {t.graph_id for t in tasks if t.graph_id}
    if matching(given, graphs):
        return _unique("graph", given, graphs, "codex-runner task list --json")
    return _unique("graph or task", given, (t.id for t in tasks), "codex-runner task list")


def matching(given: str, ids: Iterable[str]) -> list[str]:
    """The ids ``given`` names: itself when it is one of them, else those it begins (with
    or without their kind prefix), in sorted order."""
    candidates = set(ids)
    if given in candidates:
        return [given]
    return sorted(i for i in candidates if i.startswith(given) or _body(i).startswith(given))


def _unique(kind: str, given: str, ids: Iterable[str], where: str) -> str:
    if not given:
        raise IdNotResolved(f"the {kind} id is empty; give an id or a prefix of one")
    found = matching(given, ids)
    if len(found) == 1:
        return found[0]
    if not found:
        raise IdNotResolved(f"no {kind} id starts with {given!r}; see `{where}`")
    shown = ", ".join(found[:SHOWN_CANDIDATES])
    more = f" and {len(found) - SHOWN_CANDIDATES} more" if len(found) > SHOWN_CANDIDATES else ""
    raise IdNotResolved(
        f"{given!r} is the start of {len(found)} {kind} ids ({shown}{more}); give more characters"
    )


def _body(value: str) -> str:
    _, sep, body = value.partition("_")
    return body if sep else value


def _task_ids(client: DaemonClient) -> Iterator[str]:
    return (t.id for t in _tasks(client))


def _tasks(client: DaemonClient) -> Iterator[TaskOut]:
    offset = 0
    while True:
        page = client.list_tasks(limit=LIST_PAGE, offset=offset).tasks
        yield from page
        if len(page) < LIST_PAGE:
            return
        offset += len(page)
