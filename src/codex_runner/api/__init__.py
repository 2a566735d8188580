"""The HTTP API: a thin adapter over the task service (JSON, Server-Sent Events, bearer auth)."""
