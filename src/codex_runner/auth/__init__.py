"""Codex authentication: auth profiles (one Codex home each), the shared team home, the
runner's copy of an OpenAI API key, login flows over the app-server, and failover rules."""
