"""Graph routes: submit a parent with dependent children, read a graph's state, and follow
its own event stream (what its children and parent did, numbered among themselves)."""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse

from codex_runner.api.inputs import EventPageLimit, EventsAfter, LastEventId
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router, model_response
from codex_runner.http.sse import EventStreams
from codex_runner.http.wire import EventList, GraphCreate, GraphOut
from codex_runner.http.wire_inputs import graph_request_of
from codex_runner.http.wire_tasks import TaskOut
from codex_runner.service.graphs import GraphView
from codex_runner.service.tasks import TaskService


def graph_routes(service: TaskService, streams: EventStreams) -> Router:
    router = Router(prefix="/v1/graphs", tags=["graphs"], responses=ERROR_RESPONSES)

    @router.post(
        "",
        status=201,
        response=GraphOut,
        responses={200: {"model": GraphOut, "description": "The graph with this idempotency key."}},
    )
    async def submit_graph(body: GraphCreate) -> Response:
        """Create a parent and its children at once; children start as their prerequisites
        complete, the parent runs last with their results."""
        request = graph_request_of(body)
        view, created = await service.submit_graph_or_find(request)
        return model_response(graph_out(view), 201 if created else 200)

    @router.get("/{graph_id}")
    async def get_graph(graph_id: str) -> GraphOut:
        """The graph named by its id, or by the id of any of its tasks (a child's id
        finds the graph it belongs to)."""
        return graph_out(await service.graph(graph_id))

    @router.get("/{graph_id}/events")
    async def list_graph_events(
        graph_id: str,
        after: EventsAfter = 0,
        limit: EventPageLimit = 1000,
    ) -> EventList:
        """The graph's own events (graph.created, graph.child_started ...), numbered 1, 2,
        3 ... among themselves; each names the parent as task_id and its place in the
        parent's history as data.parent_seq."""
        graph = await service.graph_feed.graph(graph_id)
        events = await service.graph_feed.read(graph, after, limit)
        return EventList.page(events, after)

    @router.get(
        "/{graph_id}/events/stream",
        responses={200: {"content": {"text/event-stream": {}}, "description": "SSE feed."}},
    )
    async def stream_graph_events(
        graph_id: str,
        after: EventsAfter = 0,
        last_event_id: LastEventId = None,
    ) -> StreamingResponse:
        """The graph's stored events after ``after`` (or ``Last-Event-ID``), then live ones,
        no gap, in the graph's own numbering."""
        graph = await service.graph_feed.graph(graph_id)  # 404 before the stream starts
        start = last_event_id if last_event_id is not None else after
        return streams.response(service.graph_feed.follow(graph, start))

    return router


def graph_out(view: GraphView) -> GraphOut:
    return GraphOut(
        id=view.graph.id,
        state=view.state,
        parent=TaskOut.of(view.parent),
        children=[TaskOut.of(c) for c in view.children],
        blocked=sorted(view.blocked),
        max_concurrent=view.graph.max_concurrent,
    )
