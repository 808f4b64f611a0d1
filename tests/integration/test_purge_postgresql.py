"""Retention on PostgreSQL, in the store's own schema: old rows go, recent ones and other schemas stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.retention import purge
from adapters.store.tables import calendar_sync, dead_letters, pool_credits
from kernel.clock import utc_now
from kernel.ports.operations import NewDeadLetter

pytestmark = pytest.mark.integration


def letter(message_id: str, age: timedelta) -> NewDeadLetter:
    return NewDeadLetter(message_id=message_id, queue_name="baton.assign", actor_name="assign", stage="assign",
                         routing_ids=[], message={"args": [{"fields": {"Email": f"{message_id}@example.com"}}]},
                         reason="PermanentError", failed_at=utc_now() - age)


def test_purge_in_a_migrated_postgresql_schema(postgres_url: str, pg_schema: str) -> None:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    store = Store(engine)
    store.administration.add_dead_letter(letter("old", timedelta(days=100)))
    store.administration.add_dead_letter(letter("new", timedelta(days=2)))
    try:
        cutoff = utc_now() - timedelta(days=90)
        assert purge(engine, cutoff, dry_run=True)["dead letters"] == 1
        counts = purge(engine, cutoff)
        assert (counts["dead letters"], counts["bookings"], counts["booking reservations"]) == (1, 0, 0)
        with engine.connect() as connection:
            assert connection.execute(sa.select(dead_letters.c.message_id)).scalars().all() == ["new"]
    finally:
        engine.dispose()


def test_pool_credits_of_periods_over_and_unpolled_calendar_tokens_go_on_postgresql(
        postgres_url: str, pg_schema: str) -> None:
    """Period keys compare as text in the database's collation: still in time order within a kind."""
    cutoff = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # still 1 March (week 9) on a UTC-12 clock
    periods = {"d2026-02-28": True, "d2026-03-01": False, "w2025-W52": True, "w2026-W08": True, "w2026-W09": False,
               "w2026-W10": False, "m2026-02": True, "m2026-03": False}
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(pool_credits), [
                {"pool": "Handover", "period": period, "host_id": "005000000000002AAA", "credit": 1,
                 "updated_at": cutoff} for period in periods])
            connection.execute(sa.insert(calendar_sync), [
                {"calendar": "gone@example.com", "sync_token": "old", "updated_at": cutoff - timedelta(days=1)},
                {"calendar": "host@example.com", "sync_token": "new", "updated_at": cutoff + timedelta(days=1)}])
        counts = purge(engine, cutoff)
        assert (counts["pool credits of periods over"], counts["calendar sync tokens"]) == (4, 1)
        with engine.connect() as connection:
            assert sorted(connection.execute(sa.select(pool_credits.c.period)).scalars()) == sorted(
                period for period, over in periods.items() if not over)
            assert connection.execute(sa.select(calendar_sync.c.calendar)).scalars().all() == ["host@example.com"]
    finally:
        engine.dispose()
