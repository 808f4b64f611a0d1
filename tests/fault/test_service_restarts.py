"""RabbitMQ stopped and started (``rabbitmqctl stop_app``/``start_app``) and PostgreSQL restarted in the
middle of a run of records and bookings: workers reconnect and finish, nothing is lost or doubled, and
the dead-letter queues are empty afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.support.fault_run import FaultRun, assert_nothing_lost, run_under_fault, start_cluster
from tests.support.faults import RunCounts, may_stop_services, record_run

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
OUTAGE_S = {"rabbitmq": 10, "postgresql": 20}  # PostgreSQL: longer than a message's retry budget here (~10 s)
LOAD = f"{RECORDS} records + {BOOKINGS} bookings, 2 workers x 4 threads + flusher"


def outage(fault_run: FaultRun, counts: RunCounts, name: str, stop_service: Callable[[], None],
           start_service: Callable[[], None], after_assignments: int) -> Callable[[threading.Event], None]:
    """A fault: once ``after_assignments`` decisions are stored and the flusher has written owners (every
    process is up: the outage comes mid-run, not while one is still starting), the service is stopped for its
    OUTAGE_S."""

    def fault(stop: threading.Event) -> None:
        while fault_run.assignments() < after_assignments or not fault_run.org.updates:
            if stop.wait(0.2):
                return
        stop_service()
        time.sleep(OUTAGE_S[name])
        start_service()
        counts.injected[f"{name} outage"] = 1

    return fault


OUTAGES = {
    "rabbitmq": ("test_rabbitmq_stop_app_start_app",
                 f"rabbitmqctl stop_app for {OUTAGE_S['rabbitmq']} s, then start_app"),
    "postgresql": ("test_postgresql_restart", f"PostgreSQL stopped (fast) for {OUTAGE_S['postgresql']} s, then started"),
}


@pytest.mark.parametrize("service", list(OUTAGES))
def test_service_stopped_and_started_mid_run_workers_reconnect_lose_and_double_nothing(
    fault_run: FaultRun, service: str
) -> None:
    if not may_stop_services():
        pytest.skip("would stop this machine's shared service: set CI=true, BATON_TEST_STOP_SERVICES=1, or name "
                    "private instances (BATON_TEST_RABBITMQ_NODE and BATON_TEST_POSTGRES_CLUSTER)")
    start_cluster(fault_run)
    services = fault_run.services
    stop, start = {"rabbitmq": (services.stop_rabbitmq, services.start_rabbitmq),
                   "postgresql": (services.stop_postgres, services.start_postgres)}[service]
    name, faults = OUTAGES[service]
    counts = RunCounts(name, LOAD, faults)
    run_under_fault(fault_run, counts, RECORDS, BOOKINGS,
                    outage(fault_run, counts, service, stop, start, after_assignments=RECORDS // 5))
    record_run(counts)
    assert counts.injected.get(f"{service} outage") == 1, "the run ended before the outage"
    assert_nothing_lost(counts)
