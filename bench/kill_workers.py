"""10,000 records (and bookings) while worker processes are SIGKILLed at random every few seconds.

The long version of ``tests/fault/test_worker_kills.py``: real RabbitMQ and PostgreSQL
(``BATON_TEST_RABBITMQ_URL``/``BATON_TEST_POSTGRES_URL``, else the machine's), ``--workers`` single-process
``dramatiq`` workers plus the outbox flusher, the fake Salesforce org and fake Google Calendar. Every
``--every-min-s``..``--every-max-s`` one live worker is SIGKILLed and a new one started; when every record
and booking has an owner decision the killing stops and the run settles. It counts what was lost, doubled
or dead-lettered, which must all be 0.

    python bench/kill_workers.py [--records 10000] [--bookings 200] [--workers 3]

The last line is one JSON object, the run's row, also recorded in the build folder's results file
(``build/reliability/results.json``; publish it to docs/reliability.md with
``python -m tests.support.reliability_doc``). Timings come from a shared 2-core machine: they are noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fault_run import (  # noqa: E402
    assert_nothing_lost,
    bench_fault_run,
    kill_workers_at_random,
    run_under_fault,
    start_cluster,
)
from tests.support.run_counts import RunCounts, judged, record_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--every-min-s", type=float, default=2.0)
    parser.add_argument("--every-max-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    counts = RunCounts(
        f"bench/kill_workers.py {args.records} records",
        f"{args.records} records (batches of {args.batch_size}) + {args.bookings} bookings, {args.workers} workers "
        f"x {args.threads} threads + flusher",
        f"a random worker SIGKILLed every {args.every_min_s:g}-{args.every_max_s:g} s, replaced")
    began = time.monotonic()
    with bench_fault_run("kills") as run:
        start_cluster(run, workers=args.workers, threads=args.threads)
        kill = kill_workers_at_random(run, (args.every_min_s, args.every_max_s), args.seed)
        run_under_fault(run, counts, args.records, args.bookings, kill, batch_size=args.batch_size)
        counts.injected["SIGKILL"] = run.kills
    counts.figures = {"wall_s": round(time.monotonic() - began, 1)}
    record_run(judged(counts, assert_nothing_lost))
    print(json.dumps(counts.row()))


if __name__ == "__main__":
    main()
