"""Reservations on PostgreSQL: the database itself refuses two overlapping holds of one host."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.store import make_engine, upgrade_schema
from adapters.store.tables import reservations
from baton import runtime
from kernel.ports.bookings import NewBooking
from tests.support.booking import (
    ENGINEERS,
    HOSTS,
    NINE,
    assert_extra_pool_caps_hold_in_a_race,
    assert_one_of_twenty_wins,
)

pytestmark = pytest.mark.integration


def test_twenty_concurrent_bookings_of_one_hosts_slot_on_postgresql_exactly_one_wins(
    postgres_url: str, pg_schema: str, stub_runtime: runtime.Runtime
) -> None:
    assert_one_of_twenty_wins(stub_runtime, postgres_url, pg_schema)


def test_concurrent_bookings_never_exceed_an_extra_pools_cap_on_postgresql(
    postgres_url: str, pg_schema: str, stub_runtime: runtime.Runtime
) -> None:
    assert_extra_pool_caps_hold_in_a_race(stub_runtime, postgres_url, pg_schema)


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


def test_concurrent_bookings_of_one_host_on_different_times_never_exceed_the_day_cap(
    postgres_url: str, pg_schema: str
) -> None:
    """Ten bookings of one host at ten different times of one day, racing, with a day cap of 2: the
    per-host lock around the count lets exactly two through; calibration credits only grow."""
    import threading

    from adapters.store.bookings import SqlBookings
    from kernel.ports.bookings import CapLimit, CapReached, Hold, PoolCredits

    engine = make_engine(postgres_url, pg_schema, pool_size=12)
    upgrade_schema(engine, pg_schema)
    store = SqlBookings(engine)
    day = CapLimit(HOSTS[0], NINE.replace(hour=0), NINE.replace(hour=0) + timedelta(days=1), 2, "day cap 2 reached")
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def attempt(number: int) -> None:
        start = NINE + timedelta(minutes=40 * number)
        row = NewBooking(id=f"cap-{number}", status="reserved", booking_type="Intro", object_type="Lead",
                         record_id="00Q000000000001AAA", scheduler_user_id=HOSTS[1], host_id=HOSTS[0],
                         pool="Handover", co_host_ids=[], starts_at=start, ends_at=start + timedelta(minutes=30),
                         guest_email="pat@example.org", invitees=[], platform="none", request={},
                         created_at=NINE)
        credits = [PoolCredits("Handover", "m2030-01", {HOSTS[0]: 0, HOSTS[1]: number})]
        barrier.wait()
        try:
            store.reserve(row, [Hold(HOSTS[0], start, start + timedelta(minutes=30))], [day], credits)
            outcomes.append("reserved")
        except CapReached:
            outcomes.append("capped")

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["capped"] * 8 + ["reserved"] * 2
    credits = store.pool_credits("Handover", "m2030-01")
    assert credits[HOSTS[0]] == 0 and credits[HOSTS[1]] >= 1  # the greatest credit a reserved booking stored
    engine.dispose()


def _confirmed(booking_id: str, host_id: str, start: datetime, co_host_ids: Sequence[str] = ()) -> NewBooking:
    return NewBooking(id=booking_id, status="confirmed", booking_type="Intro", object_type="Lead",
                      record_id="00Q000000000001AAA", scheduler_user_id=HOSTS[1], host_id=host_id, pool=None,
                      co_host_ids=list(co_host_ids), starts_at=start, ends_at=start + timedelta(minutes=30),
                      guest_email="pat@example.org", invitees=[], platform="none", request={},
                      created_at=NINE)


def test_moving_a_booking_onto_anothers_time_is_refused_by_postgresql_and_changes_nothing(
    postgres_url: str, pg_schema: str
) -> None:
    from adapters.store.bookings import SqlBookings
    from kernel.ports.bookings import Hold, SlotTaken

    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    store = SqlBookings(engine)

    def book(booking_id: str, hour: int) -> Hold:
        start = NINE + timedelta(hours=hour)
        hold = Hold(HOSTS[0], start, start + timedelta(minutes=30))
        store.reserve(_confirmed(booking_id, HOSTS[0], start), [hold])
        return hold

    book("first", 0)
    second = book("second", 2)
    with pytest.raises(SlotTaken):
        store.move("second", HOSTS[0], NINE, NINE + timedelta(minutes=30), [Hold(HOSTS[0], NINE, NINE + timedelta(minutes=30))], NINE)
    assert store.get("second").starts_at == second.start  # type: ignore[union-attr]
    assert len(store.held_times([HOSTS[0]], NINE, NINE + timedelta(hours=3))[HOSTS[0]]) == 2
    store.move("second", HOSTS[0], NINE + timedelta(hours=1), NINE + timedelta(hours=1, minutes=30),
               [Hold(HOSTS[0], NINE + timedelta(hours=1), NINE + timedelta(hours=1, minutes=30))], NINE)
    assert store.get("second").starts_at == NINE + timedelta(hours=1)  # type: ignore[union-attr]
    engine.dispose()


def test_a_co_host_replaced_by_someone_another_booking_holds_is_refused_by_postgresql_and_changes_nothing(
    postgres_url: str, pg_schema: str
) -> None:
    """A declining co-host's place: a host whose time another booking holds is refused (exclusion constraint)
    and the co-host keeps their hold; a free one takes the place and the hold; released, nobody holds it."""
    from adapters.store.bookings import SqlBookings
    from kernel.ports.bookings import Hold, SlotTaken

    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    store = SqlBookings(engine)
    meeting = (NINE, NINE + timedelta(minutes=30))
    store.reserve(_confirmed("met", HOSTS[0], NINE, [HOSTS[1]]), [Hold(HOSTS[0], *meeting), Hold(HOSTS[1], *meeting)])
    store.reserve(_confirmed("busy", HOSTS[2], NINE), [Hold(HOSTS[2], *meeting)])

    def held(host: str) -> list[Hold]:
        return store.held_times([host], NINE, NINE + timedelta(hours=1))[host]

    with pytest.raises(SlotTaken):
        store.replace_co_host("met", HOSTS[1], Hold(HOSTS[2], *meeting), NINE)
    assert store.get("met").co_host_ids == [HOSTS[1]] and len(held(HOSTS[1])) == 1  # type: ignore[union-attr]
    store.replace_co_host("met", HOSTS[1], Hold(ENGINEERS[0], *meeting), NINE)
    assert store.get("met").co_host_ids == [ENGINEERS[0]]  # type: ignore[union-attr]
    assert (held(HOSTS[1]), len(held(ENGINEERS[0]))) == ([], 1)
    store.replace_co_host("met", ENGINEERS[0], None, NINE)
    assert (store.get("met").co_host_ids, held(ENGINEERS[0])) == ([], [])  # type: ignore[union-attr]
    engine.dispose()
