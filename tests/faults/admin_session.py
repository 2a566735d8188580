"""A logged-in admin page session, as the page's own script sends its requests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@asynccontextmanager
async def admin_page_client(url: str, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that sends what the admin page sends: its session cookie, its own
    ``Origin`` and the session's CSRF token (no bearer token)."""
    async with httpx.AsyncClient(base_url=url, headers={"Origin": url}, timeout=30) as client:
        login = await client.post("/admin/login", data={"token": token})
        assert login.status_code == 303, login.text
        page = await client.get("/admin/")
        found = _CSRF.search(page.text)
        assert found is not None, "the admin page carries no CSRF token"
        client.headers["X-CSRF-Token"] = found.group(1)
        yield client
