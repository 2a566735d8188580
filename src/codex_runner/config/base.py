"""What every section of the configuration shares: strict models, and the error a bad
configuration raises (it names the key and the fix)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """Configuration that cannot work; the message names the key and the fix."""


class Strict(BaseModel):
    """A config section: unknown keys are errors (a typo is named, not ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
