"""The daemon: the long-running process that owns the store, the Codex runtime and the API."""
