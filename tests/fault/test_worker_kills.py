"""Worker processes SIGKILLed at random every few seconds through a run of records and bookings (each
killed worker replaced at once): nothing lost, nothing assigned or written twice, no dead letters.
``bench/kill_workers.py`` runs the same with 10,000 records."""

from __future__ import annotations

import pytest

from tests.support.fault_run import (
    FaultRun,
    assert_nothing_lost,
    kill_workers_at_random,
    run_under_fault,
    start_cluster,
)
from tests.support.faults import RunCounts, record_run

pytestmark = pytest.mark.fault
RECORDS = 1_000
BOOKINGS = 50
EVERY_S = (1.0, 2.0)  # a quiet machine decides the run in about 6 s: at least 3 kills


def test_workers_sigkilled_at_random_lose_and_double_nothing(fault_run: FaultRun) -> None:
    start_cluster(fault_run, workers=3)
    counts = RunCounts("test_worker_sigkill", f"{RECORDS} records + {BOOKINGS} bookings, 3 workers x 4 threads "
                       "+ flusher", f"a random worker SIGKILLed every {EVERY_S[0]:g}-{EVERY_S[1]:g} s, replaced")
    run_under_fault(fault_run, counts, RECORDS, BOOKINGS, kill_workers_at_random(fault_run, EVERY_S, seed=11))
    counts.injected["SIGKILL"] = fault_run.kills
    record_run(counts)
    assert counts.injected["SIGKILL"] >= 2, "the run ended before the killing proved anything"
    assert_nothing_lost(counts)
