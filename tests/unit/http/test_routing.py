"""Declared routes: where each handler parameter comes from, and how bad input is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from codex_runner.http.json_app import json_app
from codex_runner.http.routing import Header, Router


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list, max_length=2)


class Echo(BaseModel):
    values: dict[str, Any]


def _router() -> Router:
    router = Router(prefix="/r", tags=["test"])

    @router.get("/items/{item_id}")
    async def read_item(
        request: Request,
        item_id: str,
        size: Annotated[int, Field(ge=1, le=10, description="How many.")],
        colour: list[str] | None = None,
        verbose: bool = False,
        trace: Annotated[int | None, Header("X-Trace"), Field(ge=0)] = None,
    ) -> Echo:
        """Echo what was read."""
        values = {"item_id": item_id, "size": size, "colour": colour, "verbose": verbose}
        return Echo(values={**values, "trace": trace, "method": request.method})

    @router.post("/notes", status=201)
    async def add_note(note: Note) -> Note:
        return note

    @router.post("/maybe")
    async def maybe_note(note: Note | None = None) -> dict[str, Any]:
        return {"note": note.text if note else None}

    return router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=json_app([_router()]))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_parameters_come_from_path_query_headers_and_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/r/items/a1?size=3&colour=red&colour=blue&verbose=true", headers={"X-Trace": "7"}
    )
    assert response.status_code == 200
    assert response.json()["values"] == {
        "item_id": "a1",
        "size": 3,
        "colour": ["red", "blue"],
        "verbose": True,
        "trace": 7,
        "method": "GET",
    }
    defaults = (await client.get("/r/items/a1?size=1")).json()["values"]
    assert defaults["colour"] is None and defaults["verbose"] is False and defaults["trace"] is None


@pytest.mark.parametrize(
    ("url", "headers", "field"),
    [
        ("/r/items/a1", {}, "size"),  # required query parameter missing
        ("/r/items/a1?size=11", {}, "size"),
        ("/r/items/a1?size=x", {}, "size"),
        ("/r/items/a1?size=1&verbose=maybe", {}, "verbose"),
        ("/r/items/a1?size=1", {"X-Trace": "-1"}, "X-Trace"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], field: str
) -> None:
    response = await client.get(url, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["field"] == field


async def test_a_body_is_validated_and_its_status_declared(client: httpx.AsyncClient) -> None:
    created = await client.post("/r/notes", json={"text": "hi", "tags": ["a"]})
    assert created.status_code == 201 and created.json() == {"text": "hi", "tags": ["a"]}
    for body, field in [
        ({"text": ""}, "text"),
        ({"text": "x", "tags": ["a", "b", "c"]}, "tags"),
        ({"text": "x", "tags": [1]}, "tags[0]"),
        ({"text": "x", "colour": "red"}, "colour"),
    ]:
        response = await client.post("/r/notes", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field


async def test_missing_broken_or_non_json_bodies(client: httpx.AsyncClient) -> None:
    missing = await client.post("/r/notes")
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "the request needs a JSON body"
    broken = await client.post(
        "/r/notes", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "body"
    form = await client.post("/r/notes", data={"text": "hi"})
    assert form.status_code == 415
    assert "application/json" in form.json()["error"]["message"]


async def test_an_optional_body_may_be_absent(client: httpx.AsyncClient) -> None:
    assert (await client.post("/r/maybe")).json() == {"note": None}
    assert (await client.post("/r/maybe", json={"text": "x"})).json() == {"note": "x"}


async def test_the_document_describes_each_input(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    read = doc["paths"]["/r/items/{item_id}"]["get"]
    params = {p["name"]: p for p in read["parameters"]}
    assert params["item_id"]["in"] == "path" and params["item_id"]["required"]
    assert params["size"]["required"] and params["size"]["schema"]["maximum"] == 10
    assert params["size"]["description"] == "How many."
    assert params["colour"]["schema"]["anyOf"][0]["type"] == "array"
    assert params["X-Trace"]["in"] == "header" and not params["X-Trace"]["required"]
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Echo"
    }
    add = doc["paths"]["/r/notes"]["post"]
    assert add["requestBody"]["required"] is True
    assert "201" in add["responses"] and "415" in add["responses"]
    assert doc["paths"]["/r/maybe"]["post"]["requestBody"]["required"] is False
    assert {"Echo", "Note", "ErrorOut"} <= set(doc["components"]["schemas"])
