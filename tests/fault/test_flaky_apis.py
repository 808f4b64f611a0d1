"""A whole run against a Salesforce org that answers 10% of calls with 503, 429 or UNABLE_TO_LOCK_ROW and
a Google Calendar that answers 10% with 5xx, bookings on records that are routed too: every record's owner in the
org is Baton's latest decision (with the routing facts of it, Lead being mapped) and every booking is confirmed with one calendar event, one Salesforce Event and
its reservation, nothing else (tests/support/reconcile.py)."""

from __future__ import annotations

import pytest

from kernel.clock import utc_now
from tests.support.events import lead_event
from tests.support.fault_run import (
    FaultRun,
    assert_nothing_lost,
    booking_requests,
    booking_team_config,
    routed_record_ids,
)
from tests.support.run_counts import RunCounts, record_run

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 100
ERROR_SHARE = 0.10
WRITEBACK = "writeback:\n  Lead: default\n"  # routing facts ride with each owner; reconcile compares them too


def test_flaky_salesforce_and_calendar_write_every_owner_once_and_finish_every_booking(fault_run: FaultRun) -> None:
    fault_run.org.error_share = ERROR_SHARE
    fault_run.calendar.error_share = ERROR_SHARE
    fault_run.apply(booking_team_config(members=7) + WRITEBACK)
    for _ in range(2):
        fault_run.start_worker()
    fault_run.start_flusher()
    events = [lead_event(n) for n in range(1, RECORDS + 1)]
    requests = booking_requests(BOOKINGS, utc_now(), records=routed_record_ids(BOOKINGS, RECORDS))

    counts = RunCounts("test_flaky_salesforce_and_calendar",
                       f"{RECORDS} records + {BOOKINGS} bookings on routed records, 2 workers x 4 threads + flusher",
                       "Salesforce and Calendar: 10% of calls refused (503/429/UNABLE_TO_LOCK_ROW; 5xx), applied "
                       "then 5xx, applied then dropped, or slow")
    counts.sent = fault_run.producer.publish(events[: RECORDS // 2], batch_size=1)
    fault_run.send_bookings(requests)
    counts.sent += fault_run.producer.publish(events[RECORDS // 2 :], batch_size=10)
    fault_run.wait_until_settled([e.record_id for e in events], BOOKINGS)

    fault_run.count(counts, events, requests)
    record_run(counts)
    assert sum(counts.injected.values()) > 0, "no fault was injected"
    assert_nothing_lost(counts)
    assert len(fault_run.org.field_values) > RECORDS // 2, "the routing facts were not written back"
