"""The OpenAPI 3.1 document of declared routes, built from the handlers' signatures.

Models go to ``components/schemas`` through pydantic's own JSON Schema generation (request
bodies in validation mode, responses in serialization mode, as clients see them). Built on
the first request for ``/openapi.json``, not at start.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from codex_runner.http.routing import Endpoint, Param
from codex_runner.http.wire import ErrorOut

REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"


def document(
    endpoints: Iterable[Endpoint],
    *,
    title: str,
    version: str,
    bearer_scheme: str,
    open_paths: Collection[str],
) -> dict[str, Any]:
    """The document: every operation needs the bearer token (``bearer_scheme``) except
    those on ``open_paths``."""
    shown = [e for e in endpoints if e.include_in_schema]
    keys, components = _components(shown)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in shown:
        operation = _operation(endpoint, keys, components)
        if endpoint.path in open_paths:
            operation["security"] = []
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {bearer_scheme: {"type": "http", "scheme": "bearer"}},
        },
        "security": [{bearer_scheme: []}],
    }


ModelKey = tuple[type[BaseModel], JsonSchemaMode]


def _components(
    endpoints: list[Endpoint],
) -> tuple[dict[ModelKey, dict[str, Any]], dict[str, Any]]:
    wanted: dict[ModelKey, None] = {}
    for endpoint in endpoints:
        body = endpoint.body
        if body is not None and body.model is not None:
            wanted[(body.model, "validation")] = None
            wanted[(ErrorOut, "serialization")] = None  # its 415
        for model in _response_models(endpoint):
            wanted[(model, "serialization")] = None
    if not wanted:
        return {}, {}
    keys, schema = models_json_schema(list(wanted), ref_template=REF_TEMPLATE)
    refs = {
        (model, mode): ref for (model, mode), ref in keys.items() if issubclass(model, BaseModel)
    }
    return refs, dict(schema.get("$defs", {}))


def _response_models(endpoint: Endpoint) -> list[type[BaseModel]]:
    success = endpoint.response_model
    models = [success] if success is not None else []
    models += [r["model"] for r in endpoint.responses.values() if "model" in r]
    return models


def _operation(
    endpoint: Endpoint, keys: Mapping[ModelKey, dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    doc = (endpoint.handler.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.handler.__name__}_{endpoint.method.lower()}",
        "summary": endpoint.handler.__name__.replace("_", " ").capitalize(),
        "responses": _responses(endpoint, keys),
    }
    if doc:
        operation["description"] = doc
    if endpoint.tags:
        operation["tags"] = list(endpoint.tags)
    parameters = [_parameter(p, components) for p in endpoint.params if p.source in _LOCATIONS]
    if parameters:
        operation["parameters"] = parameters
    body = endpoint.body
    if body is not None and body.model is not None:
        operation["requestBody"] = {
            "required": body.required,
            "content": {JSON: {"schema": keys[(body.model, "validation")]}},
        }
        operation["responses"]["415"] = {
            "description": "The body is not JSON.",
            "content": {JSON: {"schema": keys[(ErrorOut, "serialization")]}},
        }
    return operation


_LOCATIONS = frozenset({"path", "query", "header"})  # parameter sources OpenAPI lists


def _parameter(param: Param, components: dict[str, Any]) -> dict[str, Any]:
    if param.adapter is None:  # a path segment
        schema: dict[str, Any] = {"type": "string"}
    else:
        schema = dict(param.adapter.json_schema(ref_template=REF_TEMPLATE))
        components.update(schema.pop("$defs", {}))
    out: dict[str, Any] = {
        "name": param.key,
        "in": param.source,
        "required": param.required,
        "schema": schema,
    }
    if "description" in schema:
        out["description"] = schema["description"]
    return out


def _responses(
    endpoint: Endpoint, keys: Mapping[ModelKey, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    success: dict[str, Any] = {"description": "Successful response"}
    model = endpoint.response_model
    if model is not None:
        success["content"] = {JSON: {"schema": keys[(model, "serialization")]}}
    else:
        success["content"] = {JSON: {"schema": {}}}
    out: dict[str, dict[str, Any]] = {str(endpoint.status): success}
    for status, declared in endpoint.responses.items():
        entry = {"description": declared.get("description", "")}
        if "model" in declared:
            entry["content"] = {JSON: {"schema": keys[(declared["model"], "serialization")]}}
        elif "content" in declared:
            entry["content"] = declared["content"]
        out[str(status)] = {**out.get(str(status), {}), **entry}
    return out
