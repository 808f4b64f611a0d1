"""RabbitMQ stopped and started (``rabbitmqctl stop_app``/``start_app``) and PostgreSQL restarted in the
middle of a run of records and bookings: workers reconnect and finish, nothing is lost or doubled, and
the dead-letter queues are empty afterwards."""

from __future__ import annotations

import time

import pytest

from baton.clock import utc_now
from tests.support.fault_run import FaultRun, assert_nothing_lost, booking_requests, start_cluster
from tests.support.events import lead_event
from tests.support.faults import RunCounts, record_run

pytestmark = pytest.mark.fault
RECORDS = 2_000
BOOKINGS = 50
OUTAGE_S = 5


def wait_for_progress(fault_run: FaultRun, assignments: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while fault_run.store.count_assignments() < assignments:
        assert time.monotonic() < deadline, f"no progress to {assignments} assignments\n{fault_run.logs()}"
        time.sleep(0.2)


def test_rabbitmq_stopped_and_started_mid_run_loses_and_doubles_nothing(fault_run: FaultRun) -> None:
    start_cluster(fault_run)
    events = [lead_event(n) for n in range(1, RECORDS + 1)]
    counts = RunCounts("test_rabbitmq_stop_app_start_app", f"{RECORDS} records + {BOOKINGS} bookings, "
                       "2 workers x 4 threads + flusher", f"rabbitmqctl stop_app for {OUTAGE_S} s, then start_app")
    counts.sent = fault_run.producer.publish(events[: RECORDS // 2], batch_size=5)
    sent_bookings = fault_run.send_bookings(booking_requests(BOOKINGS, utc_now()))
    wait_for_progress(fault_run, RECORDS // 10)

    fault_run.services.stop_rabbitmq()
    time.sleep(OUTAGE_S)
    fault_run.services.start_rabbitmq()
    counts.injected["rabbitmq stop_app"] = 1
    counts.sent += fault_run.producer.publish(events[RECORDS // 2 :], batch_size=5)
    fault_run.wait_until_settled([e.record_id for e in events], BOOKINGS)

    fault_run.count(counts, events, sent_bookings)
    record_run(counts)
    assert_nothing_lost(counts)


def test_postgresql_restarted_mid_run_workers_reconnect_and_finish(fault_run: FaultRun) -> None:
    start_cluster(fault_run)
    events = [lead_event(n) for n in range(1, RECORDS + 1)]
    counts = RunCounts("test_postgresql_restart", f"{RECORDS} records + {BOOKINGS} bookings, "
                       "2 workers x 4 threads + flusher", f"PostgreSQL stopped (fast) for {OUTAGE_S} s, then started")
    counts.sent = fault_run.producer.publish(events, batch_size=5)
    sent_bookings = fault_run.send_bookings(booking_requests(BOOKINGS, utc_now()))
    wait_for_progress(fault_run, RECORDS // 5)

    fault_run.services.stop_postgres()
    time.sleep(OUTAGE_S)
    fault_run.services.start_postgres()
    counts.injected["postgresql restart"] = 1
    fault_run.wait_until_settled([e.record_id for e in events], BOOKINGS)

    fault_run.count(counts, events, sent_bookings)
    record_run(counts)
    assert_nothing_lost(counts)
