"""RabbitMQ stopped and started (``rabbitmqctl stop_app``/``start_app``) and PostgreSQL stopped and started
while the producer is still publishing: the outage starts after 10 of the last records' 50 messages are
confirmed, once the flusher has written owners (every process is up); the producer waits at its 20th until the
outage has started, so it always has messages left, and through a RabbitMQ outage it needs retries. Workers
reconnect and finish, nothing is lost or doubled, and the dead-letter queues are empty afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.support.fault_run import (
    SECOND_RECORDS,
    FaultRun,
    assert_nothing_lost,
    run_under_fault,
    start_cluster,
)
from tests.support.run_counts import RunCounts, record_run
from tests.support.service_control import may_stop_services

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
OUTAGE_S = {"rabbitmq": 10, "postgresql": 20}  # PostgreSQL: longer than a message's retry budget here (~10 s)
AFTER_PUBLISHES, STARTED_BEFORE = 10, 20  # of SECOND_RECORDS (50 messages of 10 records)
LOAD = f"{RECORDS} records + {BOOKINGS} bookings, 2 workers x 4 threads + flusher"


def outage(fault_run: FaultRun, counts: RunCounts, name: str, stop_service: Callable[[], None],
           start_service: Callable[[], None]) -> Callable[[threading.Event], None]:
    """A fault: once AFTER_PUBLISHES messages of SECOND_RECORDS are confirmed and the flusher has written owners
    (every process is up: a process started during an outage exits), the service is stopped for its OUTAGE_S;
    the producer, held at STARTED_BEFORE until then, publishes on into the outage."""
    trigger = fault_run.producer.trigger(SECOND_RECORDS, AFTER_PUBLISHES, STARTED_BEFORE)

    def fault(stop: threading.Event) -> None:
        if not trigger.wait(stop):
            return
        while not fault_run.org.updates:
            if stop.wait(0.2):
                return
        stop_service()
        trigger.land(fault_run.producer)
        counts.figures["producer messages left at the outage"] = trigger.left
        counts.figures["producer retries before the outage"] = fault_run.producer.retries
        time.sleep(OUTAGE_S[name])
        start_service()
        counts.injected[f"{name} outage"] = 1

    return fault


OUTAGES = {
    "rabbitmq": ("test_rabbitmq_stop_app_start_app",
                 f"rabbitmqctl stop_app for {OUTAGE_S['rabbitmq']} s while the producer publishes, then start_app"),
    "postgresql": ("test_postgresql_restart",
                   f"PostgreSQL stopped (fast) for {OUTAGE_S['postgresql']} s while the producer publishes, "
                   "then started"),
}


@pytest.mark.parametrize("service", list(OUTAGES))
def test_service_stopped_mid_publish_and_started_workers_reconnect_lose_and_double_nothing(
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
    run_under_fault(fault_run, counts, RECORDS, BOOKINGS, outage(fault_run, counts, service, stop, start))
    record_run(counts)

    assert counts.injected.get(f"{service} outage") == 1, "the run ended before the outage"
    assert counts.figures["producer messages left at the outage"], "the outage began after the producer finished"
    if service == "rabbitmq":
        assert fault_run.producer.retries > counts.figures["producer retries before the outage"], \
            "the producer never had to retry through the outage"
    assert_nothing_lost(counts)
