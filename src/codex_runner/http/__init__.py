"""HTTP plumbing the adapters share: the API (``api/``), the admin page (``web/``) and the
Slack bridge's routes all serve through it, and the CLI reads the wire shapes.

- :mod:`.routing`: declared JSON routes over Starlette (a handler's signature says what it
  reads); :mod:`.openapi` builds their document;
- :mod:`.json_app`: an app serving routers with the error rendering and that document;
- :mod:`.errors`: every error as one JSON shape, service errors mapped to statuses in one table;
- :mod:`.auth`: the bearer, session-cookie, Origin/CSRF and Host checks, as one middleware;
- :mod:`.sse`: Server-Sent Events over a task's event feed;
- :mod:`.wire`: the request and response shapes, shared by the server and the CLI.

This package's ``__init__`` imports nothing, so the CLI loads :mod:`.wire` without Starlette.
"""
