"""Processes SIGKILLed in the middle of their work, from the first publish until every owner is written and
every booking is final: every 1-2 s a worker whose AMQP connections hold unacknowledged messages right then
(``rabbitmqctl``, mapped to the worker's sockets through /proc; a worker holding none is never counted, the
next holder is looked for), and twice the outbox flusher while it has owner writes in flight (rows it marked
in flight and has not settled); each victim replaced at once. Nothing lost, nothing assigned or written twice,
no dead letters. ``bench/kill_workers.py`` runs the same with 10,000 records."""

from __future__ import annotations

import pytest

from tests.support.fault_run import (
    FaultRun,
    assert_nothing_lost,
    kill_workers_at_random,
    run_under_fault,
    start_cluster,
)
from tests.support.run_counts import RunCounts, record_run

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
EVERY_S = (1.0, 2.0)
FLUSHER_KILLS = 2


def test_workers_holding_unacked_messages_and_the_flusher_mid_write_sigkilled_lose_and_double_nothing(
    fault_run: FaultRun,
) -> None:
    start_cluster(fault_run, workers=3)
    counts = RunCounts("test_worker_sigkill", f"{RECORDS} records + {BOOKINGS} bookings, 3 workers x 4 threads "
                       "+ flusher", f"every {EVERY_S[0]:g}-{EVERY_S[1]:g} s a worker holding unacked messages "
                       f"SIGKILLed, {FLUSHER_KILLS} times the flusher with owner writes in flight; each replaced")
    run_under_fault(fault_run, counts, RECORDS, BOOKINGS,
                    kill_workers_at_random(fault_run, EVERY_S, seed=11, flusher_kills=FLUSHER_KILLS))
    workers = [kill for kill in fault_run.kill_log if kill.victim == "worker"]
    flushers = [kill for kill in fault_run.kill_log if kill.victim == "flusher"]
    counts.injected["SIGKILL worker"] = len(workers)
    counts.injected["SIGKILL flusher"] = len(flushers)
    counts.figures["unacked messages held by killed workers"] = sum(kill.unacked for kill in workers)
    counts.figures["outbox rows in flight in killed flushers"] = sum(kill.in_flight for kill in flushers)
    record_run(counts)

    assert len(workers) >= 2 and all(kill.unacked > 0 for kill in workers), fault_run.kill_log
    assert len(flushers) >= 1 and all(kill.in_flight > 0 for kill in flushers), fault_run.kill_log
    assert_nothing_lost(counts)
