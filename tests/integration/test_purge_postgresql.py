"""Retention on PostgreSQL, in the store's own schema: old rows go, recent ones and other schemas stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.retention import purge
from adapters.store.tables import dead_letters
from baton.clock import utc_now

pytestmark = pytest.mark.integration


def letter(message_id: str, age: timedelta) -> dict[str, object]:
    return {"message_id": message_id, "queue_name": "baton.assign", "actor_name": "assign", "stage": "assign",
            "routing_ids": [], "message": {"args": [{"fields": {"Email": f"{message_id}@example.com"}}]},
            "reason": "PermanentError", "failed_at": utc_now() - age}


def test_purge_in_a_migrated_postgresql_schema(postgres_url: str, pg_schema: str) -> None:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    store = Store(engine)
    store.add_dead_letter(letter("old", timedelta(days=100)))
    store.add_dead_letter(letter("new", timedelta(days=2)))
    try:
        cutoff = utc_now() - timedelta(days=90)
        assert purge(engine, cutoff, dry_run=True)["dead letters"] == 1
        counts = purge(engine, cutoff)
        assert (counts["dead letters"], counts["bookings"], counts["booking reservations"]) == (1, 0, 0)
        with engine.connect() as connection:
            assert connection.execute(sa.select(dead_letters.c.message_id)).scalars().all() == ["new"]
    finally:
        engine.dispose()
