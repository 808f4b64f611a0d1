"""The API tokens port: bearer tokens with scopes (kept only as digests), their requests counted per minute and the
failed authentications counted per client address and minute."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    scheduler_user_id: str | None
    rate_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "scopes": list(self.scopes),
            "scheduler_user_id": self.scheduler_user_id, "rate_per_minute": self.rate_per_minute,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class TokenRepository(Protocol):
    def create(self, name: str, scopes: Iterable[str], now: datetime, *, scheduler_user_id: str | None = None,
               rate_per_minute: int | None = None, expires_at: datetime | None = None) -> tuple[str, ApiToken]:
        """A new token: the token itself (shown once) and its stored description."""
        ...

    def get(self, token_id: str) -> ApiToken | None: ...

    def find(self, token: str) -> ApiToken | None:
        """The stored token this bearer token is, usable or not; None when it was never issued."""
        ...

    def all(self) -> list[ApiToken]: ...

    def revoke(self, token_id: str, now: datetime) -> ApiToken:
        """Raises InputError for an unknown or already revoked token."""
        ...

    def hit(self, key: str, now: datetime, limit: int) -> float | None:
        """Counts one request of ``key`` this minute; over ``limit``, the seconds until the minute ends."""
        ...

    def failures(self, address: str, now: datetime) -> int:
        """The failed authentications of ``address`` counted in the current one-minute window."""
        ...

    def fail(self, address: str, now: datetime) -> int:
        """Counts one failed authentication of ``address`` this minute; the minute's count with it."""
        ...
