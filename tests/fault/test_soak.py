"""The soak bench for a minute, as CI runs it: 100 records/s plus 5 bookings/s through four worker
processes. Nothing lost, doubled or dead-lettered; the producer alive and sending to the end; at least 90%
of both asked rates sent; worker memory and the steady p99 within the bounds below
(``bench.soak.assert_soak_claims``). The hour-long run and its figures: docs/reliability.md.

``BATON_SOAK_KILL_PRODUCER_AFTER_S=10`` makes the bench's record producer die after 10 s: this test must
then fail (producer not alive to the end, record rate not reached)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import assert_soak_claims, soak_load
from tests.support.reliability_doc import RESULTS_DIR_VARIABLE
from tests.support.run_counts import RunCounts, record_run
from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.fault
DURATION_S = 60
RECORDS_PER_S, BOOKINGS_PER_S, BATCH_SIZE, WORKERS, THREADS = 100, 5, 5, 4, 4
# Worker RSS from the first sample after the 20 s warm-up to the end: +8.8% to +14% over a minute (caches
# still filling to their 4,096 entries), +4.4% over an hour. 25% leaves room for a loaded box and still
# catches a leak that grows memory by a quarter in 40 s.
MAX_RSS_GROWTH_PCT = 25.0
# p99 from publish to stored decision, median of the steady 10 s windows: 21-80 ms on a quiet machine, 62 ms
# with four other test runs on the 2-core box (single windows up to a few hundred ms). 3 s fails only a
# pipeline that is falling behind its input.
MAX_P99_MS = 3_000.0
KILL_PRODUCER_VARIABLE = "BATON_SOAK_KILL_PRODUCER_AFTER_S"


def soak_command() -> list[str]:
    command = [sys.executable, str(REPO_ROOT / "bench" / "soak.py"), "--duration-s", str(DURATION_S),
               "--sample-s", "10", "--records-per-s", str(RECORDS_PER_S), "--bookings-per-s", str(BOOKINGS_PER_S),
               "--batch-size", str(BATCH_SIZE), "--workers", str(WORKERS), "--threads", str(THREADS),
               "--record-as", "test_soak_short"]
    if os.environ.get(KILL_PRODUCER_VARIABLE):
        command += ["--kill-producer-after-s", os.environ[KILL_PRODUCER_VARIABLE]]
    return command


def test_a_minute_of_steady_records_and_bookings_keeps_its_rate_memory_and_latency_and_loses_nothing(
    rabbitmq_url: str, postgres_url: str, tmp_path: Path
) -> None:
    counts = RunCounts("test_soak_short", soak_load(RECORDS_PER_S, BOOKINGS_PER_S, BATCH_SIZE, DURATION_S, WORKERS,
                                                    THREADS), "none (steady load)")
    env = {**os.environ, "BATON_TEST_RABBITMQ_URL": rabbitmq_url, "BATON_TEST_POSTGRES_URL": postgres_url,
           "PYTHONPATH": str(REPO_ROOT), RESULTS_DIR_VARIABLE: str(tmp_path)}
    finished = subprocess.run(soak_command(), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=DURATION_S + 400)
    print(finished.stdout)
    assert finished.returncode == 0, finished.stderr[-4000:]
    counts.take(json.loads(finished.stdout.strip().splitlines()[-1]))
    record_run(counts)
    assert_soak_claims(counts, MAX_RSS_GROWTH_PCT, MAX_P99_MS)
