"""The booking's transition table: every transition it allows, what it refuses, and the chain's path."""

from __future__ import annotations

import pytest

from routing.lifecycles import IllegalTransition
from routing.lifecycles.booking import (
    BOOKING,
    ENDED,
    FINAL_STATUSES,
    IN_CHAIN,
    BookingStatus,
    chain_step_after,
)

S = BookingStatus
ALLOWED = {
    (S.REQUESTED, S.RESERVED),
    (S.RESERVED, S.CALENDAR_CREATED), (S.RESERVED, S.FAILED), (S.RESERVED, S.CANCELLED), (S.RESERVED, S.NO_SHOW),
    (S.CALENDAR_CREATED, S.EVENT_CREATED), (S.CALENDAR_CREATED, S.FAILED), (S.CALENDAR_CREATED, S.CANCELLED),
    (S.CALENDAR_CREATED, S.NO_SHOW),
    (S.EVENT_CREATED, S.CONFIRMED), (S.EVENT_CREATED, S.FAILED), (S.EVENT_CREATED, S.CANCELLED),
    (S.EVENT_CREATED, S.NO_SHOW),
    (S.CONFIRMED, S.CANCELLED), (S.CONFIRMED, S.NO_SHOW),
    (S.NO_SHOW, S.CANCELLED),
}
EVERY_PAIR = [(current, to) for current in S for to in S]


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_each_transition_of_the_table_is_allowed(current: BookingStatus, to: BookingStatus) -> None:
    assert BOOKING.allows(current, to) and BOOKING.allows(current.value, to.value)
    BOOKING.check(current, to)
    assert current in BOOKING.sources(to)


@pytest.mark.parametrize(("current", "to"), [pair for pair in EVERY_PAIR if pair not in ALLOWED])
def test_every_other_transition_is_refused(current: BookingStatus, to: BookingStatus) -> None:
    assert not BOOKING.allows(current, to)
    with pytest.raises(IllegalTransition, match=f"booking: no transition from '{current}' to '{to}'"):
        BOOKING.check(current, to)


def test_a_cancelled_or_failed_booking_is_final_and_nothing_follows_it() -> None:
    assert BOOKING.final == ENDED == {S.FAILED, S.CANCELLED}
    assert BOOKING.sources(S.CANCELLED) == {S.RESERVED, S.CALENDAR_CREATED, S.EVENT_CREATED, S.CONFIRMED, S.NO_SHOW}
    assert BOOKING.sources(S.FAILED) == IN_CHAIN  # a confirmed booking no longer fails: its chain is done


def test_each_step_of_the_chain_moves_a_booking_one_status_on() -> None:
    assert [chain_step_after(status) for status in (S.RESERVED, S.CALENDAR_CREATED, S.EVENT_CREATED)] == [
        S.CALENDAR_CREATED, S.EVENT_CREATED, S.CONFIRMED]
    assert all(chain_step_after(status) is None for status in FINAL_STATUSES | {S.REQUESTED})
    assert all(BOOKING.allows(status, chain_step_after(status)) for status in IN_CHAIN)  # type: ignore[arg-type]


def test_an_unknown_status_is_named() -> None:
    with pytest.raises(IllegalTransition, match="'booked'"):
        BOOKING.allows("booked", S.CANCELLED)
