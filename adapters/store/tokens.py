"""API bearer tokens, their request counts and the failed authentications per client address in SQL: the tokens
repository (``kernel.ports.tokens``).

A token is shown once, when it is created; the store keeps only its SHA-256 digest (tokens are 256 random
bits, so a fast hash is enough: nothing can be guessed from the digest, and a lookup costs one index read).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.tables import api_tokens, auth_failures, rate_windows
from kernel.errors import InputError, TransientError
from kernel.ports.tokens import ApiToken

TOKEN_PREFIX = "baton_"
ID_BYTES = 6
SECRET_BYTES = 32
WINDOW_S = 60


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id, name=row.name, scopes=tuple(row.scopes), scheduler_user_id=row.scheduler_user_id,
        rate_per_minute=row.rate_per_minute, created_at=row.created_at,
        expires_at=row.expires_at, revoked_at=row.revoked_at,
    )


class SqlTokens:
    """The tokens repository over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, name: str, scopes: Iterable[str], now: datetime, *, scheduler_user_id: str | None = None,
               rate_per_minute: int | None = None, expires_at: datetime | None = None) -> tuple[str, ApiToken]:
        """Stores a new token's digest; returns the token itself (shown once) and its stored description."""
        token_id = secrets.token_hex(ID_BYTES)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        row = {"id": token_id, "name": name, "digest": token_digest(token), "scopes": sorted(set(scopes)),
               "scheduler_user_id": scheduler_user_id, "rate_per_minute": rate_per_minute, "created_at": now,
               "expires_at": expires_at, "revoked_at": None}
        with self.engine.begin() as connection:
            connection.execute(sa.insert(api_tokens), [row])
        stored = self.get(token_id)
        assert stored is not None
        return token, stored

    def get(self, token_id: str) -> ApiToken | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
        return _token(row) if row is not None else None

    def find(self, token: str) -> ApiToken | None:
        """The stored token this bearer token is, usable or not; None when it was never issued."""
        try:
            with self.engine.connect() as connection:
                row = connection.execute(
                    sa.select(api_tokens).where(api_tokens.c.digest == token_digest(token))
                ).first()
        except sa.exc.OperationalError as exc:
            raise TransientError(f"database unavailable: {exc.orig or exc}") from exc
        return _token(row) if row is not None else None

    def all(self) -> list[ApiToken]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))
            return [_token(row) for row in rows]

    def revoke(self, token_id: str, now: datetime) -> ApiToken:
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        token = self.get(token_id)
        if token is None:
            raise InputError(f"no token {token_id!r} (baton tokens list shows the ids)")
        if done.rowcount == 0:
            raise InputError(f"token {token_id} was already revoked at {token.revoked_at}")
        return token

    def hit(self, key: str, now: datetime, limit: int) -> float | None:
        """Counts one request of ``key`` in the current one-minute window; over ``limit``, the seconds until
        the window ends (the Retry-After), else None."""
        epoch = now.timestamp()
        window = window_start(now)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(rate_windows).values(token_id=key, window_start=window, count=1)
        upsert = upsert.on_conflict_do_update(
            index_elements=[rate_windows.c.token_id, rate_windows.c.window_start],
            set_={"count": rate_windows.c.count + 1},
        ).returning(rate_windows.c.count)
        try:
            with self.engine.begin() as connection:
                count = connection.execute(upsert).scalar_one()
                if count == 1:  # a new window: the token's older windows are done with
                    connection.execute(sa.delete(rate_windows).where(
                        rate_windows.c.token_id == key, rate_windows.c.window_start < window))
        except sa.exc.OperationalError as exc:
            raise TransientError(f"database unavailable: {exc.orig or exc}") from exc
        if count <= limit:
            return None
        return window + WINDOW_S - epoch

    def failures(self, address: str, now: datetime) -> int:
        """The failed authentications counted for ``address`` in the current one-minute window (none counted)."""
        window = window_start(now)
        try:
            with self.engine.connect() as connection:
                count = connection.execute(sa.select(auth_failures.c.count).where(
                    auth_failures.c.address == address, auth_failures.c.window_start == window)).scalar()
        except sa.exc.OperationalError as exc:
            raise TransientError(f"database unavailable: {exc.orig or exc}") from exc
        return count or 0

    def fail(self, address: str, now: datetime) -> int:
        """Counts one failed authentication of ``address`` in the current window; the window's count with it."""
        window = window_start(now)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(auth_failures).values(address=address, window_start=window, count=1)
        upsert = upsert.on_conflict_do_update(
            index_elements=[auth_failures.c.address, auth_failures.c.window_start],
            set_={"count": auth_failures.c.count + 1},
        ).returning(auth_failures.c.count)
        try:
            with self.engine.begin() as connection:
                count: int = connection.execute(upsert).scalar_one()
                if count == 1:  # a new window: this address's older ones are done with
                    connection.execute(sa.delete(auth_failures).where(
                        auth_failures.c.address == address, auth_failures.c.window_start < window))
        except sa.exc.OperationalError as exc:
            raise TransientError(f"database unavailable: {exc.orig or exc}") from exc
        return count


def window_start(now: datetime) -> int:
    """The start (epoch seconds) of the one-minute window ``now`` falls in."""
    return int(now.timestamp() // WINDOW_S) * WINDOW_S


def window_left(now: datetime) -> float:
    """The seconds from ``now`` to the end of its one-minute window (a Retry-After)."""
    return window_start(now) + WINDOW_S - now.timestamp()
