"""`baton reconcile`'s comparison (pure): owners in Salesforce against Baton's newest decisions, what --requeue may
do about each difference, and bookings that never reached a final state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.operations.reconcile import (
    Action,
    Difference,
    booking_document,
    compare_owners,
    last_step,
    next_step,
    owner_document,
    short_age,
    unfinished_bookings,
)
from kernel.ports.bookings import BookingRow
from kernel.ports.operations import LatestOwnerDecision

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
REP_A, REP_B = "005000000000001AAA", "005000000000002AAA"


def decision(record: int, owner: str = REP_A, write: str | None = "sent",
             newest: str | None = "sent") -> LatestOwnerDecision:
    return LatestOwnerDecision("Lead", f"00Q00000000000{record}AAA", owner, f"routing-{record}",
                               NOW - timedelta(hours=record), write, newest)


def test_matching_owners_are_counted_and_not_listed() -> None:
    comparison = compare_owners([decision(1), decision(2, REP_B)],
                                {"00Q000000000001": REP_A, "00Q000000000002": REP_B})

    assert (comparison.compared, comparison.matched, comparison.differences) == (2, 2, [])


def test_ids_compare_by_their_15_character_form() -> None:
    comparison = compare_owners([decision(1, owner=REP_A[:15])], {"00Q000000000001": REP_A})

    assert comparison.matched == 1


def test_another_owner_in_salesforce_differs_and_can_be_queued_again() -> None:
    comparison = compare_owners([decision(1)], {"00Q000000000001": REP_B})

    [found] = comparison.differences
    assert (found.difference, found.action, found.salesforce_owner_id) == (Difference.DIFFERS, Action.REQUEUE, REP_B)
    assert comparison.to_requeue() == [found] and comparison.count(Difference.DIFFERS) == 1


@pytest.mark.parametrize(("write", "newest", "action"), [
    ("pending", "pending", Action.PENDING),  # the decision's own write is still to be sent
    ("sent", "pending", Action.PENDING),  # queued again already (an earlier reconcile --requeue)
    ("failed", "failed", Action.REQUEUE),  # dead-lettered during an outage
    (None, None, Action.REQUEUE),  # its row was purged
    ("sent", "failed", Action.REQUEUE),
])
def test_a_difference_is_queued_again_only_when_the_records_newest_write_is_not_pending(
        write: str | None, newest: str | None, action: Action) -> None:
    comparison = compare_owners([decision(1, write=write, newest=newest)], {"00Q000000000001": REP_B})

    assert [found.action for found in comparison.differences] == [action]


def test_a_record_salesforce_does_not_have_is_missing_and_nothing_is_written_to_it() -> None:
    comparison = compare_owners([decision(1), decision(2)], {"00Q000000000002": REP_A})

    [found] = comparison.differences
    assert (found.decision.record_id, found.difference, found.action) == ("00Q000000000001AAA", Difference.MISSING,
                                                                           Action.NONE)
    assert found.salesforce_owner_id is None and comparison.to_requeue() == []
    assert (comparison.matched, comparison.count(Difference.MISSING)) == (1, 1)


def test_a_difference_as_a_json_line() -> None:
    [found] = compare_owners([decision(3, write="failed", newest="failed")], {"00Q000000000003": REP_B}).differences

    assert owner_document(found) == {
        "kind": "owner", "object_type": "Lead", "record_id": "00Q000000000003AAA", "difference": "differs",
        "salesforce_owner_id": REP_B, "baton_owner_id": REP_A, "decided_at": "2026-11-20T09:00:00+00:00",
        "routing_id": "routing-3", "write_status": "failed", "newest_write_status": "failed", "action": "requeue",
    }


# bookings ----------------------------------------------------------------------------------------------------
def booking(booking_id: str, status: str, created: timedelta, updated: timedelta | None = None) -> BookingRow:
    return BookingRow(
        id=booking_id, status=status, booking_type="intro", object_type="Lead", record_id="00Q000000000001AAA",
        scheduler_user_id=REP_A, host_id=REP_B, pool="AE", co_host_ids=[], starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=1, minutes=30), guest_email="guest@example.com", invitees=[], platform="meet",
        request={}, created_at=NOW - created, calendar_event_id=None, meet_link=None, salesforce_event_id=None,
        error=None, updated_at=NOW - (updated if updated is not None else created))


def test_bookings_in_a_final_state_are_not_listed_and_the_rest_oldest_first() -> None:
    rows = [booking("b-confirmed", "confirmed", timedelta(days=3)), booking("b-new", "reserved", timedelta(minutes=2)),
            booking("b-cancelled", "cancelled", timedelta(days=2)), booking("b-failed", "failed", timedelta(days=2)),
            booking("b-no-show", "no_show", timedelta(days=2)),
            booking("b-stuck", "calendar_created", timedelta(days=1), updated=timedelta(hours=20))]

    found = unfinished_bookings(rows, NOW)

    assert [item.booking.id for item in found] == ["b-stuck", "b-new"]
    assert (found[0].age, found[0].idle) == (timedelta(days=1), timedelta(hours=20))


def test_bookings_can_be_restricted_to_those_created_before_a_time() -> None:
    rows = [booking("b-old", "reserved", timedelta(hours=2)), booking("b-new", "reserved", timedelta(minutes=2))]

    assert [item.booking.id for item in unfinished_bookings(rows, NOW, NOW - timedelta(minutes=15))] == ["b-old"]


@pytest.mark.parametrize(("status", "done", "to_do"), [
    ("requested", None, "booking_request"),
    ("reserved", "booking_request", "booking_calendar"),
    ("calendar_created", "booking_calendar", "booking_event"),
    ("event_created", "booking_event", "booking_owner"),
    ("a_status_this_code_does_not_know", "(unknown)", None),
])
def test_a_bookings_last_step_and_next_step_follow_the_booking_chain(status: str, done: str | None,
                                                                      to_do: str | None) -> None:
    assert (last_step(status), next_step(status)) == (done, to_do)


def test_an_unfinished_booking_as_a_json_line() -> None:
    [found] = unfinished_bookings([booking("b-1", "reserved", timedelta(hours=3), timedelta(hours=2))], NOW)

    document = booking_document(found)

    assert {key: document[key] for key in ("kind", "booking_id", "status", "age_s", "idle_s", "last_step",
                                           "next_step", "host_id")} == {
        "kind": "booking", "booking_id": "b-1", "status": "reserved", "age_s": 3 * 3600, "idle_s": 2 * 3600,
        "last_step": "booking_request", "next_step": "booking_calendar", "host_id": REP_B}


@pytest.mark.parametrize(("span", "shown"), [
    (timedelta(days=3, hours=4, minutes=5), "3d4h"), (timedelta(hours=2, seconds=5), "2h0m"),
    (timedelta(minutes=5, seconds=7), "5m7s"), (timedelta(seconds=45), "45s"), (timedelta(0), "0s"),
    (timedelta(seconds=-3), "0s"),
])
def test_ages_are_shown_in_their_largest_unit_and_the_next(span: timedelta, shown: str) -> None:
    assert short_age(span) == shown
