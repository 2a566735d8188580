"""codex-runner: run OpenAI Codex agents as a managed, durable, observable service."""

__version__ = "0.1.0"
