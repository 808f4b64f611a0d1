"""Pushes N events through RabbitMQ and real worker processes into PostgreSQL; prints throughput and latency.

Latency is enqueue -> assignment decided (the assign stage's clock, read inside the transaction that stores
the decision). Throughput is records / (last decision - first enqueue). Last line: one JSON object.

    python bench/pipeline.py --records 20000 --batch 100 --workers 2
    python bench/pipeline.py --records 3000 --rate 100 --batch 1 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.tables import assignments  # noqa: E402
from baton.configs import apply_config  # noqa: E402
from messages import RecordEvent, Source  # noqa: E402
from tests.support.configs import team_config  # noqa: E402
from tests.support.services import (  # noqa: E402
    Producer,
    WorkerProcess,
    delete_queues,
    unique_prefix,
    worker_env,
)

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def make_events(count: int, run: str) -> list[RecordEvent]:
    now = datetime.now(UTC)
    return [
        RecordEvent(
            object_type="Lead",
            record_id=f"00Q{n:012d}AAA",
            fields={"LastName": f"Lead {n}", "Company": f"Company {n % 997}", "Email": f"l{n}@example{n % 53}.com",
                    "Country": "United Kingdom"},
            source=Source.API,
            source_event_id=f"{run}:{n}",
            commit_timestamp=now + timedelta(microseconds=n),
            received_at=now,
        )
        for n in range(1, count + 1)
    ]


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0, help="records/s to offer; 0 = as fast as possible")
    parser.add_argument("--batch", type=int, default=100, help="records per queue message")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker process")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--log-level", default="WARNING", help="workers' BATON_LOG_LEVEL (INFO: a line per stage)")
    parser.add_argument("--latencies", type=Path, help="write enqueued_at,latency_ms per record to this CSV")
    parser.add_argument("--keep-logs", action="store_true", help="print where the worker logs are")
    args = parser.parse_args()

    prefix = unique_prefix()
    schema = f"bench_{prefix}"
    engine = make_engine(POSTGRES_URL, schema)
    upgrade_schema(engine, schema)
    store = Store(engine)
    apply_config(store.administration, team_config(members=args.members), datetime.now(UTC))
    producer = Producer(RABBITMQ_URL, prefix)
    env = worker_env(RABBITMQ_URL, POSTGRES_URL, schema, prefix, BATON_LOG_LEVEL=args.log_level)
    logs = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    workers = [WorkerProcess(env, logs / f"worker-{i}.log", args.threads).start() for i in range(args.workers)]
    events = make_events(args.records, prefix)
    try:
        time.sleep(3)  # let the workers connect and declare their queues
        groups = [worker.process.pid for worker in workers if worker.process]
        cpu_before = sum(group_cpu_s(pgid) for pgid in groups)
        started = time.perf_counter()
        interval = args.batch / args.rate if args.rate else 0.0
        for index, start in enumerate(range(0, len(events), args.batch)):
            if interval:
                delay = started + index * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            producer.publish(events[start : start + args.batch], batch_size=args.batch)
        enqueue_s = time.perf_counter() - started
        deadline = time.monotonic() + args.timeout
        while store.decisions.count_assignments() < args.records:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out; worker logs in {logs}")
            time.sleep(0.2)
        worker_cpu_s = sum(group_cpu_s(pgid) for pgid in groups) - cpu_before
        with engine.connect() as connection:
            rows = connection.execute(sa.select(assignments.c.decided_at, assignments.c.log)).all()
        enqueued = [datetime.fromisoformat(row.log["enqueued_at"]) for row in rows]
        decided = [row.decided_at for row in rows]
        latencies_ms = [(d - e).total_seconds() * 1000 for d, e in zip(decided, enqueued, strict=True)]
        span_s = (max(decided) - min(enqueued)).total_seconds()
        if args.latencies:
            ordered = sorted(zip(enqueued, latencies_ms, strict=True))
            args.latencies.write_text("".join(f"{e.isoformat()},{ms:.1f}\n" for e, ms in ordered))
        owners = store.decisions.owner_counts()
        result = {
            "records_per_s": round(args.records / span_s, 1),
            "p50_ms": round(statistics.median(latencies_ms), 1),
            "p95_ms": round(percentile(latencies_ms, 0.95), 1),
            "p99_ms": round(percentile(latencies_ms, 0.99), 1),
            "records": args.records,
            "batch": args.batch,
            "rate": args.rate,
            "workers": args.workers,
            "threads": args.threads,
            "publisher_confirms": True,
            "enqueue_s": round(enqueue_s, 2),
            "owner_spread": max(owners.values()) - min(owners.values()),
            "worker_cpu_ms_per_record": round(worker_cpu_s * 1000 / args.records, 2),
        }
        print(f"routed {args.records} records with {args.workers} worker processes x {args.threads} threads, "
              f"batch {args.batch}, rate {'max' if not args.rate else args.rate}", file=sys.stderr)
        if args.keep_logs:
            print(f"worker logs: {logs}", file=sys.stderr)
        print(json.dumps(result))
    finally:
        for worker in workers:
            worker.stop()
        producer.close()
        delete_queues(RABBITMQ_URL, prefix)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


if __name__ == "__main__":
    main()
