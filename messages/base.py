"""Base for everything that crosses a queue or the HTTP edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1


class Contract(BaseModel):
    """Strict: unknown fields are rejected, so a producer's typo is an error, not silence."""

    model_config = ConfigDict(extra="forbid")
