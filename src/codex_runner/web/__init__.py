"""The admin web page: server-rendered shells, a little JavaScript over the JSON API."""

from codex_runner.web.routes import admin_access, admin_router
from codex_runner.web.sessions import AdminSessions

__all__ = ["AdminSessions", "admin_access", "admin_router"]
