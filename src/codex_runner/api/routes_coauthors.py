"""``/v1/coauthors``: the chat users' git authors, credited in their tasks' commits
(docs/coauthors.md). Thin: the rules are :mod:`codex_runner.service.coauthors`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from starlette.responses import Response

from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router
from codex_runner.service.coauthors import CoauthorNotFound, Coauthors
from codex_runner.store.coauthors import Coauthor
from codex_runner.store.protocol import Store


class CoauthorOut(BaseModel):
    bridge: str = Field(description="The chat: slack, or a chat server link's name.")
    user: str = Field(description="The user's id in that chat.")
    display_name: str
    author: str = Field(description="The git author, Name <email>.")
    source: str = Field(description="inferred (from the chat profile's email) or manual.")
    updated_at: datetime

    @classmethod
    def of(cls, entry: Coauthor) -> CoauthorOut:
        return cls(
            bridge=entry.bridge,
            user=entry.user,
            display_name=entry.display_name,
            author=entry.author or "",
            source=entry.source.value if entry.source is not None else "",
            updated_at=entry.updated_at,
        )


class CoauthorList(BaseModel):
    coauthors: list[CoauthorOut]


class CoauthorBody(BaseModel):
    author: str = Field(description='The git author, "Name <email>".')
    display_name: str = Field("", description="How people know the user (kept when empty).")


def coauthor_routes(store: Store) -> Router:
    coauthors = Coauthors(store)
    router = Router(prefix="/v1/coauthors", tags=["coauthors"], responses=ERROR_RESPONSES)

    @router.get("")
    async def list_coauthors() -> CoauthorList:
        """Every chat user with a git author, by chat and user."""
        return CoauthorList(coauthors=[CoauthorOut.of(c) for c in await coauthors.entries()])

    @router.route("PUT", "/{bridge}/{user}", response=CoauthorOut)
    async def set_coauthor(bridge: str, user: str, body: CoauthorBody) -> CoauthorOut:
        """Set a user's author by hand: inference from their profile never replaces it."""
        entry = await coauthors.set(bridge, user, body.author, display_name=body.display_name)
        return CoauthorOut.of(entry)

    @router.route("DELETE", "/{bridge}/{user}", status=204)
    async def delete_coauthor(bridge: str, user: str) -> Response:
        """Remove a user's author: their commits credit nobody until one is set again."""
        try:
            await coauthors.delete(bridge, user)
        except CoauthorNotFound as exc:
            return error_response(404, "not_found", str(exc))
        return Response(status_code=204)

    return router
