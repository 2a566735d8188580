"""Declared JSON routes over Starlette: a handler's signature says what it reads.

The daemon's API used to sit on FastAPI; this keeps its way of declaring routes (typed
handler parameters, pydantic bodies, a generated OpenAPI document) at a fraction of the
start-up cost, which matters because a restart is not over until the API answers. What a
handler parameter means comes from its annotation and name:

- ``request: Request``: the Starlette request;
- a name in the path template (``/v1/tasks/{task_id}``): that path segment, a ``str``;
- a pydantic model (optionally ``| None`` with a default): the JSON body;
- ``Annotated[T, Header("Name")]``: that request header, validated as ``T``;
- anything else: a query parameter validated as ``T`` (``list[T]`` reads a repeated one);
  constraints and descriptions come from a pydantic ``Field`` in the ``Annotated``.

Each route is compiled (signature read, validators built) on its first request or when the
OpenAPI document is built, not at start. Invalid input raises :class:`InvalidInput` with
pydantic's error list, ``loc`` starting with where the value came from (``body``,
``query``, ``header``); :mod:`codex_runner.http.errors` renders it as a 422 naming the field.
A handler returns a pydantic model (rendered as JSON with the route's status), a Starlette
``Response`` (sent as is), or plain JSON data.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[..., Awaitable[Any]]
Source = Literal["path", "query", "header", "body", "request"]
# Extra responses for the document: status -> {"model": type[BaseModel], "description": str}
# or {"content": {...}, "description": str}.
ResponsesDoc = Mapping[int | str, Mapping[str, Any]]

JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class Header:
    """Marks a handler parameter as the request header ``name``."""

    name: str


class InvalidInput(Exception):
    """The request's input did not validate; ``errors`` in pydantic's format."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("invalid request input")
        self.errors = list(errors)


class UnsupportedBody(Exception):
    """A body sent with a content type other than JSON."""


@dataclass(frozen=True)
class Param:
    """One handler parameter, compiled."""

    name: str
    source: Source
    key: str  # the path/query/header name
    annotation: Any
    required: bool
    default: Any
    many: bool = False  # a repeated query parameter
    adapter: TypeAdapter[Any] | None = None
    model: type[BaseModel] | None = None  # the body's model


@dataclass
class Endpoint:
    """A route as declared; ``params`` are compiled on first use."""

    method: str
    path: str
    handler: Handler
    status: int
    response: type[BaseModel] | None
    responses: ResponsesDoc
    tags: tuple[str, ...]
    include_in_schema: bool
    _params: list[Param] | None = field(default=None, repr=False)
    _returns: type[BaseModel] | None = field(default=None, repr=False)

    @property
    def params(self) -> list[Param]:
        if self._params is None:
            self._params, self._returns = _compile(self.handler, self.path)
        return self._params

    @property
    def response_model(self) -> type[BaseModel] | None:
        """The model documented for success: declared, else the handler's return type."""
        if self.response is not None:
            return self.response
        _ = self.params
        return self._returns

    @property
    def body(self) -> Param | None:
        return next((p for p in self.params if p.source == "body"), None)

    async def handle(self, request: Request) -> Response:
        kwargs: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for param in self.params:
            try:
                kwargs[param.name] = await _read(param, request)
            except ValidationError as exc:
                errors += _located(exc, param)
        if errors:
            raise InvalidInput(errors)
        return self.render(await self.handler(**kwargs))

    def render(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):
            return model_response(result, self.status)
        return JSONResponse(result, status_code=self.status)


def model_response(model: BaseModel, status: int = 200) -> Response:
    """``model`` as JSON (pydantic's serializer, no intermediate dict)."""
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


class Router:
    """A group of routes sharing a path prefix, tags and documented error responses."""

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: Sequence[str] = (),
        responses: ResponsesDoc | None = None,
        include_in_schema: bool = True,
        authenticates_itself: bool = False,
    ) -> None:
        self.prefix = prefix
        self.tags = tuple(tags)
        self.responses: ResponsesDoc = dict(responses or {})
        self.include_in_schema = include_in_schema
        # Its routes check their own credential (say, a per-session key) and need no API
        # token: the daemon's bearer check lets their paths through.
        self.authenticates_itself = authenticates_itself
        self.endpoints: list[Endpoint] = []

    def get(
        self,
        path: str,
        *,
        response: type[BaseModel] | None = None,
        responses: ResponsesDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.route("GET", path, response=response, responses=responses)

    def post(
        self,
        path: str,
        *,
        status: int = 200,
        response: type[BaseModel] | None = None,
        responses: ResponsesDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.route("POST", path, status=status, response=response, responses=responses)

    def route(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        response: type[BaseModel] | None = None,
        responses: ResponsesDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` for ``method`` on ``prefix + path``; ``response`` is the
        model documented for ``status`` (a model the handler returns is sent either way)."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=self.prefix + path,
                    handler=handler,
                    status=status,
                    response=response,
                    responses={**self.responses, **(responses or {})},
                    tags=self.tags,
                    include_in_schema=self.include_in_schema,
                )
            )
            return handler

        return register

    def routes(self) -> list[Route]:
        return [
            Route(e.path, e.handle, methods=[e.method], name=e.handler.__name__)
            for e in self.endpoints
        ]


# --- reading a request ----------------------------------------------------------------------


async def _read(param: Param, request: Request) -> Any:
    if param.source == "request":
        return request
    if param.source == "path":
        return request.path_params[param.key]
    if param.source == "body":
        return await _read_body(param, request)
    values = request.query_params if param.source == "query" else request.headers
    if param.many:
        raw: Any = values.getlist(param.key)
        present = bool(raw)
    else:
        raw = values.get(param.key)
        present = raw is not None
    if not present:
        if param.required:
            raise _missing()
        return param.default
    assert param.adapter is not None
    return param.adapter.validate_python(raw)


async def _read_body(param: Param, request: Request) -> Any:
    assert param.model is not None
    raw = await request.body()
    if not raw:
        if param.required:
            raise _missing()
        return param.default
    # A body declared as something else (curl -d sends a form type) is refused with the fix,
    # rather than guessed at; a body with no declared type is read as JSON.
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json(content_type):
        raise UnsupportedBody(content_type)
    return param.model.model_validate_json(raw)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or media.endswith("+json")


def _missing() -> ValidationError:
    return ValidationError.from_exception_data(
        "request", [{"type": "missing", "loc": (), "input": None}]
    )


def _located(exc: ValidationError, param: Param) -> list[dict[str, Any]]:
    """pydantic's errors with ``loc`` prefixed by where the value came from."""
    prefix: tuple[str | int, ...] = (
        ("body",) if param.source == "body" else (param.source, param.key)
    )
    located = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        located.append({**error, "loc": prefix + loc})
    return located


# --- compiling a handler --------------------------------------------------------------------


def _compile(handler: Handler, path: str) -> tuple[list[Param], type[BaseModel] | None]:
    """The handler's parameters, and the model it returns (if it always returns one)."""
    hints = typing.get_type_hints(handler, include_extras=True)
    path_names = _path_names(path)
    params = []
    for name, parameter in inspect.signature(handler).parameters.items():
        annotation = hints.get(name, Any)
        required = parameter.default is inspect.Parameter.empty
        default = None if required else parameter.default
        base, metadata = _unwrap(annotation)
        if base is Request:
            params.append(Param(name, "request", name, annotation, False, None))
        elif name in path_names:
            params.append(Param(name, "path", name, annotation, True, None))
        elif (model := _model_of(base)) is not None:
            params.append(Param(name, "body", name, annotation, required, default, model=model))
        else:
            header = next((m for m in metadata if isinstance(m, Header)), None)
            source: Source = "header" if header is not None else "query"
            key = header.name if header is not None else name
            many = source == "query" and _is_list(base)
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            params.append(Param(name, source, key, annotation, required, default, many, adapter))
    returns = hints.get("return")
    model = returns if isinstance(returns, type) and issubclass(returns, BaseModel) else None
    return params, model


def _path_names(path: str) -> set[str]:
    names = set()
    for part in path.split("{")[1:]:
        names.add(part.split("}", 1)[0].split(":", 1)[0])
    return names


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(type, Annotated metadata) with the ``Annotated`` wrapper taken off."""
    if typing.get_origin(annotation) is typing.Annotated:
        return annotation.__origin__, tuple(annotation.__metadata__)
    return annotation, ()


def _non_none(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    members = _non_none(annotation)
    if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
        return members[0]
    return None


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) in (list, tuple, set) for a in _non_none(annotation))
