"""Network faults between every process and RabbitMQ, PostgreSQL, the fake Salesforce and the fake Google
Calendar, all through TCP proxies, from the first publish until every owner is written and every booking is
final (not merely decided), each set off by an event rather than a timer lottery:

- the publisher's live connection is cut (FIN) after 10 confirmed publishes of the first records, reset (RST)
  after 10 of the booking requests and cut again after 10 of the last records (the producer waits 20 publishes
  later until the fault has landed, so it always meets a publisher with messages left);
- workers' connections whose channels hold unacknowledged messages right then (asked of the node itself) are
  reset, then cut, then reset... (each landed fault takes the next kind), each time once the run has made
  progress since the last;
- PostgreSQL's, Salesforce's and Calendar's connections are cut, reset, refused for 1 s or delayed 50 ms a chunk
  for 2 s, each in turn, and RabbitMQ's refused or delayed.

Each kind of cut and reset met at least one live connection of its kind; nothing is lost, assigned or written
twice, or dead-lettered."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.support.fault_run import (
    BOOKING_REQUESTS,
    FIRST_RECORDS,
    SECOND_RECORDS,
    FaultRun,
    assert_nothing_lost,
    run_under_fault,
    start_cluster,
)
from tests.support.rabbitmq_probe import wait_for_unacked
from tests.support.run_counts import RunCounts, record_run
from tests.support.tcp_proxy import PUBLISHER, Severed, TcpProxy

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
SERVICES = ("rabbitmq", "postgres", "salesforce", "calendar")
SERVICE_FAULTS = {"postgres": ("cut", "reset", "refuse", "delay"), "salesforce": ("reset", "cut", "delay", "refuse"),
                  "calendar": ("cut", "refuse", "reset", "delay"), "rabbitmq": ("refuse", "delay")}
SCHEDULE = ("consumers", "postgres", "salesforce", "consumers", "calendar", "rabbitmq")
CONSUMER_FAULTS = ("reset", "cut")  # taken in turn by each consumer fault that lands, so both happen early
PUBLISHER_FAULTS = {FIRST_RECORDS: "cut", BOOKING_REQUESTS: "reset", SECOND_RECORDS: "cut"}
AFTER_PUBLISHES, LANDED_BEFORE = 10, 30
TICK_S = 0.5
WATCH_UNACKED_S = 3.0
# A worker recovers from a cut consumer connection slowly (dramatiq restarts the consumer after 3 s; worker threads
# retry acks for messages of the lost connection every 5 s): the next such cut waits until the run made this much
# progress (decisions + owners written + bookings finished), else the cuts outpace recovery and nothing moves.
# Not a liveness window: once such churn stops the run recovers in seconds (bench/consumer_churn.py: after 60 s
# of cuts every 4 s, no ack retry loop outlived the churn by more than 5 s and the remaining ~3000 decisions were
# stored 35-42 s later, against ~21 s for 4000 without faults).
PROGRESS_BETWEEN_CONSUMER_FAULTS = 100


def inject(proxy: TcpProxy, fault: str) -> None:
    if fault in ("cut", "reset"):
        getattr(proxy, fault)()
    elif fault == "refuse":
        with proxy.refused():
            time.sleep(1.0)
    else:
        proxy.delay_s = 0.05
        time.sleep(2.0)
        proxy.delay_s = 0.0


def progress(fault_run: FaultRun) -> int:
    """Decisions stored, owners written and bookings finished so far (0 while PostgreSQL is unreachable)."""
    try:
        sent = sum(n for (status, _), n in fault_run.store.outbox.summary().items() if status == "sent")
        return fault_run.assignments() + sent + len(fault_run.bookings()) - fault_run.unfinished_bookings()
    except sa.exc.OperationalError:
        return 0


def sever_consumers(fault_run: FaultRun, proxy: TcpProxy, kind: str) -> Severed | None:
    """Cuts or resets the workers' connections as soon as their channels hold unacknowledged messages (within
    WATCH_UNACKED_S); None (and nothing done) when none did."""
    unacked = wait_for_unacked(fault_run.prefix, WATCH_UNACKED_S)
    holding = {c.upstream_port for c in proxy.connections() if c.label != PUBLISHER and unacked.get(c.upstream_port)}
    if not holding:
        return None
    severed: Severed = getattr(proxy, kind)(only=lambda c: c.upstream_port in holding, unacked=unacked)
    return severed


def test_live_connections_cut_reset_refused_and_delayed_mid_publish_and_mid_consume_lose_and_double_nothing(
    fault_run: FaultRun,
) -> None:
    proxies = {service: fault_run.proxy(service) for service in SERVICES}
    start_cluster(fault_run)
    counts = RunCounts("test_network_faults", f"{RECORDS} records + {BOOKINGS} bookings, 2 workers x 4 threads "
                       "+ flusher, all (and the publisher) through TCP proxies",
                       "publisher's live connection cut/reset/cut after 10 publishes of each phase; every 0.5 s in "
                       "turn: workers' connections holding unacked messages cut or reset, PostgreSQL/Salesforce/"
                       "Calendar cut, reset, refused 1 s or delayed 50 ms a chunk 2 s, RabbitMQ refused or delayed; "
                       "until every owner is written and every booking final")
    triggers = {phase: fault_run.producer.trigger(phase, AFTER_PUBLISHES, LANDED_BEFORE) for phase in PUBLISHER_FAULTS}
    publisher: dict[str, Severed] = {}
    faulted_at: list[float] = []

    def on_publisher(stop: threading.Event) -> None:
        for phase, kind in PUBLISHER_FAULTS.items():
            if not triggers[phase].wait(stop):
                return
            publisher[phase] = getattr(proxies["rabbitmq"], kind)(only=lambda c: c.label == PUBLISHER)
            triggers[phase].land(fault_run.producer)

    def saboteur(stop: threading.Event) -> None:
        publishing = threading.Thread(target=on_publisher, args=(stop,), daemon=True, name="sever-publisher")
        publishing.start()
        turns = dict.fromkeys(SERVICES, 0)
        step = recovered_at = consumer_faults = 0
        while not stop.wait(TICK_S):
            action = SCHEDULE[step % len(SCHEDULE)]
            step += 1
            if action == "consumers":
                if progress(fault_run) < recovered_at:
                    continue
                kind = CONSUMER_FAULTS[consumer_faults % len(CONSUMER_FAULTS)]
                if sever_consumers(fault_run, proxies["rabbitmq"], kind) is None:
                    counts.figures["consumer faults that found none holding unacked"] = counts.figures.get(
                        "consumer faults that found none holding unacked", 0) + 1  # type: ignore[operator]
                    continue
                name = f"rabbitmq consumers {kind}"
                consumer_faults += 1
                recovered_at = progress(fault_run) + PROGRESS_BETWEEN_CONSUMER_FAULTS
            else:
                fault = SERVICE_FAULTS[action][turns[action] % len(SERVICE_FAULTS[action])]
                turns[action] += 1
                inject(proxies[action], fault)
                name = f"{action} {fault}"
            faulted_at.append(time.monotonic())
            counts.injected[name] = counts.injected.get(name, 0) + 1
        publishing.join()

    run_under_fault(fault_run, counts, RECORDS, BOOKINGS, saboteur)
    rabbitmq = proxies["rabbitmq"].severed
    for kind in ("cut", "reset"):
        counts.figures[f"publisher connections {kind}"] = sum(s.publishers for s in rabbitmq if s.kind == kind)
        counts.figures[f"consumer connections with unacked {kind}"] = sum(
            s.consumers_with_unacked for s in rabbitmq if s.kind == kind)
        counts.figures[f"unacked messages on connections {kind}"] = sum(s.unacked for s in rabbitmq if s.kind == kind)
    counts.figures["publisher connections opened"] = proxies["rabbitmq"].accepted[PUBLISHER]
    decided = fault_run.timeline.get("decided", float("inf"))
    counts.figures["faults after every decision was stored"] = sum(1 for at in faulted_at if at > decided)
    record_run(counts)

    for phase, kind in PUBLISHER_FAULTS.items():
        assert triggers[phase].left, f"the {kind} in {phase} landed after the producer had published everything"
        assert publisher[phase].publishers == 1, f"the {kind} in {phase} met no live publisher connection"
    for kind in ("cut", "reset"):
        assert counts.figures[f"consumer connections with unacked {kind}"], f"no {kind} met a consumer holding unacked"
    assert {name.split()[0] for name in counts.injected if name != "calendar 5xx"} == set(SERVICES), counts.injected
    assert_nothing_lost(counts)
