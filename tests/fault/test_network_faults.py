"""Network faults between the workers (and flusher) and RabbitMQ, PostgreSQL, the fake Salesforce and
the fake Google Calendar: every connection goes through a TCP proxy that, every second or two, cuts
(FIN) or resets (RST) all of one service's connections, refuses new ones for a moment, or delays every
chunk. Nothing is lost, assigned or written twice, or dead-lettered."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.support.fault_run import FaultRun, assert_nothing_lost, run_under_fault, start_cluster
from tests.support.faults import RunCounts, TcpProxy, record_run

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
SERVICES = ("rabbitmq", "postgres", "salesforce", "calendar")
FAULTS = ("cut", "reset", "refuse", "delay")


def inject(proxy: TcpProxy, fault: str) -> None:
    if fault == "cut":
        proxy.cut()
    elif fault == "reset":
        proxy.reset()
    elif fault == "refuse":
        with proxy.refused():
            time.sleep(1.0)
    else:
        proxy.delay_s = 0.05
        time.sleep(2.0)
        proxy.delay_s = 0.0


def test_connections_cut_reset_refused_and_delayed_lose_and_double_nothing(fault_run: FaultRun) -> None:
    proxies = {service: fault_run.proxy(service) for service in SERVICES}
    start_cluster(fault_run)
    counts = RunCounts("test_network_faults", f"{RECORDS} records + {BOOKINGS} bookings, 2 workers x 4 threads "
                       "+ flusher, all through TCP proxies", "every 0.5-1.5 s one service's connections (in turn) cut (FIN), "
                       "reset (RST), refused for 1 s or delayed 50 ms a chunk for 2 s")
    chooser = random.Random(5)

    def saboteur(stop: threading.Event) -> None:
        """The services take turns; each turn a random fault, every 0.5-1.5 s."""
        turn = 0
        while not stop.wait(chooser.uniform(0.5, 1.5)):
            service, fault = SERVICES[turn % len(SERVICES)], chooser.choice(FAULTS)
            turn += 1
            inject(proxies[service], fault)
            counts.injected[f"{service} {fault}"] = counts.injected.get(f"{service} {fault}", 0) + 1

    run_under_fault(fault_run, counts, RECORDS, BOOKINGS, saboteur)
    record_run(counts)
    faulted = {name.split()[0] for name, count in counts.injected.items() if count and name != "calendar 5xx"}
    assert faulted == set(SERVICES), f"the run ended before every service had a fault: {counts.injected}"
    assert_nothing_lost(counts)
