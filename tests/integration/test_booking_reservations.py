"""Reservations on PostgreSQL: the database itself refuses two overlapping holds of one host."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.store import make_engine, upgrade_schema
from adapters.store.tables import reservations
from baton import runtime
from tests.support.booking import HOSTS, NINE, assert_one_of_twenty_wins

pytestmark = pytest.mark.integration


def test_twenty_concurrent_bookings_of_one_hosts_slot_on_postgresql_exactly_one_wins(
    postgres_url: str, pg_schema: str, stub_runtime: runtime.Runtime
) -> None:
    assert_one_of_twenty_wins(postgres_url, pg_schema)


def test_the_exclusion_constraint_refuses_overlapping_holds_of_one_host_but_not_of_two(
    postgres_url: str, pg_schema: str
) -> None:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)

    def hold(booking: str, host: str, minutes_from_nine: int) -> None:
        start = NINE + timedelta(minutes=minutes_from_nine)
        with engine.begin() as connection:
            connection.execute(sa.insert(reservations), [{"booking_id": booking, "host_id": host,
                                                          "starts_at": start, "ends_at": start + timedelta(minutes=50)}])

    hold("a", HOSTS[0], 0)
    hold("b", HOSTS[1], 0)
    hold("c", HOSTS[0], 50)  # touching, not overlapping: [09:50, 10:40)
    with pytest.raises(sa.exc.IntegrityError, match="ex_reservations_host_time"):
        hold("d", HOSTS[0], 49)
    engine.dispose()
