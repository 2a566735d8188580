"""What Codex needs to call the scripted model: its model, provider and API key names, and
the ``config.toml`` settings that point Codex at a scripted model's address (one served in
this process, or ``codex-runner mock-model`` in another)."""

from __future__ import annotations

from typing import Any, Final

MODEL_NAME: Final = "mock-model"
PROVIDER_ID: Final = "mock"
API_KEY_ENV: Final = "MOCK_API_KEY"


def codex_config_for(base_url: str, *, websockets: bool = False) -> dict[str, Any]:
    """Codex ``config.toml`` settings that point Codex at a scripted model at ``base_url``."""
    provider: dict[str, Any] = {
        "name": PROVIDER_ID,
        "base_url": base_url,
        "wire_api": "responses",
        "env_key": API_KEY_ENV,
        # Retries would replay scripted errors and hide them from tests.
        "request_max_retries": 0,
        "stream_max_retries": 0,
    }
    if websockets:
        # Codex then keeps one connection per thread, as with its own OpenAI provider.
        provider["supports_websockets"] = True
    return {
        "model": MODEL_NAME,
        "model_provider": PROVIDER_ID,
        "model_providers": {PROVIDER_ID: provider},
    }
