"""Salesforce API calls per 1,000 records (real time and batch) and the time to reassign many records.

Runs against the fake org of ``tests/support`` over HTTPS. ``--broker`` picks where the stages run:

- ``embedded`` (default): the in-process broker and worker in this process, SQLite unless ``--database-url``
  names PostgreSQL.
- ``rabbitmq``: real RabbitMQ (``--rabbitmq-url``) and ``--workers`` ``dramatiq workers`` processes on PostgreSQL
  (``--database-url`` required); this process reads, enqueues, waits
  and writes, as ``baton reassign`` does.
- ``both``: embedded here, then the RabbitMQ fleet in a child run of this script; both printed.

On PostgreSQL each run uses a fresh schema (and queue prefix), dropped afterwards.

Measured:
- real time: ``--realtime-records`` single-record messages at ``--rate`` records/s through the pipeline, with the
  real outbox flusher (``baton.salesforce.flusher.Flusher``) ticking every second; calls = sObject Collections requests.
- batch: one reassign job (``baton.assignment.reassign.run.run_job``) over ``--records`` leads read by a Bulk API 2.0 query
  (``--page-size`` records a results page) and written by ingest; calls = every Bulk API request, its wall time
  from job start to the last owner written, and CPU milliseconds per record: CPU time of this process (the fake
  org's threads included) plus, on RabbitMQ, of every worker process, divided by the records. CPU per record is
  the fairer figure on a shared machine: wall time grows with other people's load, CPU time much less.

OAuth token requests are not API calls and are not counted. ``--writeback`` maps Lead's routing facts to the
default fields, so every owner write (sObject Collections and Bulk ingest alike) carries them as well; the summary
then says how many records got them. Last line: one JSON object.

    python bench/salesforce.py                       # 1,000 real-time records, 100,000-record reassign
    python bench/salesforce.py --records 20000 --realtime-records 300
    python bench/salesforce.py --broker both --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from simple_salesforce import Salesforce

from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter
from adapters.salesforce.writer import SalesforceOwnerWriter
from baton.assignment.reassign import jobs
from baton.assignment.reassign.run import JobContext, run_job
from baton.bootstrap import bootstrap, build_flusher
from baton.runtime import Runtime
from baton.salesforce.ingest import enqueue
from baton.settings import Settings
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from messages import RecordEvent, Source
from tests.support.configs import team_config
from tests.support.services import WorkerProcess, delete_queues, unique_prefix, worker_env

QUEUE_OWNER = "00G000000000001AAA"
FULL_JOB_RECORDS = 100_000
WARM_UP_RECORDS = 200
WRITEBACK = "writeback:\n  Lead: default\n"  # --writeback: Lead's routing facts ride with each owner
WAIT_POLL_S = 0.1
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def realtime_event(number: int) -> RecordEvent:
    now = datetime.now(UTC)
    return RecordEvent(object_type="Lead", record_id=f"00Q{number:012d}BBB",
                       fields={"LastName": f"Lead {number}", "Company": f"Company {number}", "Country": "Germany"},
                       source=Source.API, source_event_id=f"rt-{number}", commit_timestamp=now, received_at=now)


def bench_realtime(current: Runtime, org: FakeOrg, count: int, rate_per_s: float) -> float:
    """Collections calls per 1,000 records arriving one by one at ``rate_per_s``."""
    flusher = build_flusher(current)
    thread = threading.Thread(target=flusher.run, daemon=True)
    thread.start()
    calls_before = len(org.calls)
    started = time.monotonic()
    for number in range(1, count + 1):
        enqueue(current.broker, [realtime_event(number)], 1, utc_now())
        time.sleep(max(0.0, started + number / rate_per_s - time.monotonic()))
    store = current.ports.store
    while len(org.owners) < count or store.outbox.due(utc_now() + timedelta(days=1), "realtime", 1):
        time.sleep(WAIT_POLL_S)
    flusher.stopped.set()
    thread.join()
    return (len(org.calls) - calls_before) * 1000 / count


def group_cpu_s(group_ids: list[int]) -> float:
    """User plus system CPU seconds of every live process in these process groups (Linux /proc)."""
    total_ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) in group_ids:  # fields after "(comm)": state ppid pgrp … utime(11) stime(12)
            total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks / CLOCK_TICKS


def bench_reassign(current: Runtime, org: FakeOrg, salesforce: Salesforce, count: int,
                   idle: Callable[[], bool] | None, other_cpu_s: Callable[[], float]) -> tuple[float, float, float]:
    """(Bulk API calls per 1,000 records, seconds, CPU ms per record) of one reassign job over ``count`` leads."""
    org.records["Lead"] = [{"Id": f"00Q{n:012d}AAA", "OwnerId": QUEUE_OWNER, "LastName": f"Lead {n}",
                            "Company": f"Company {n % 997}", "Country": "Germany"} for n in range(1, count + 1)]
    org.owners.clear()
    settings, store = current.settings, current.ports.store
    client = BulkClient(salesforce, poll_ms=settings.bulk_poll_ms)
    calls_before = len(org.bulk.requests)
    cpu_before = time.process_time() + other_cpu_s()
    started = time.monotonic()
    job = jobs.create_job(store.administration, jobs.SOURCE_SOQL, "SELECT Id, OwnerId, LastName, Company, Country FROM Lead",
                          "Lead", False, utc_now())
    ctx = JobContext(store, current.broker, settings, client, BulkOwnerWriter(client), current.ports.clock,
                     idle=idle, timeout_s=1800)
    report = run_job(job, ctx)
    elapsed_s = time.monotonic() - started
    cpu_ms = (time.process_time() + other_cpu_s() - cpu_before) * 1000 / count
    assert report.ok and report.writes["sent"] == count, report.job.counts
    return (len(org.bulk.requests) - calls_before) * 1000 / count, elapsed_s, cpu_ms


def _settings(args: argparse.Namespace, folder: Path, **overrides: object) -> Settings:
    config = folder / "org.yaml"
    config.write_text(team_config(members=5) + (WRITEBACK if args.writeback else ""))
    values: dict[str, object] = {
        "broker_url": "", "database_url": args.database_url or f"sqlite:///{folder / 'baton.sqlite3'}",
        "config": config, "batch_size": args.batch_size, "worker_threads": args.threads, "log_level": "WARNING",
        "bulk_poll_ms": 50, "flush_interval_ms": 1_000, **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def run_embedded(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    on_postgresql = bool(args.database_url and "postgresql" in args.database_url)
    schema = f"baton_bench_{uuid.uuid4().hex[:10]}" if on_postgresql else None
    settings = _settings(args, folder, database_schema=schema)
    try:
        return _run_embedded(args, settings)
    finally:
        if schema:
            _drop_schema(args.database_url, schema)


def _run_embedded(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    with fake_salesforce() as (org, salesforce):
        org.bulk.page_size = args.page_size
        current = bootstrap(settings, owner_writer=SalesforceOwnerWriter(salesforce))
        broker = current.broker
        assert isinstance(broker, StubBroker)
        worker = Worker(broker, worker_threads=args.threads, worker_timeout=100)
        worker.start()
        try:
            realtime = bench_realtime(current, org, args.realtime_records, args.rate) if args.realtime_records else None
            batch, seconds, cpu_ms = bench_reassign(
                current, org, salesforce, args.records,
                lambda: all(q.unfinished_tasks == 0 for q in broker.queues.values()), lambda: 0.0)
        finally:
            worker.stop()
        facts = len(org.field_values)
    return {"realtime": realtime, "batch": batch, "seconds": seconds, "cpu_ms": cpu_ms,
            "store": "postgresql" if "postgresql" in settings.database_url else "sqlite", "fact_records": facts}


def run_fleet(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    if not args.database_url or "postgresql" not in args.database_url:
        raise SystemExit("--broker rabbitmq needs --database-url postgresql://…")
    prefix, schema = unique_prefix(), f"baton_bench_{uuid.uuid4().hex[:10]}"
    settings = _settings(args, folder, broker_url=args.rabbitmq_url, queue_prefix=prefix, database_schema=schema)
    env = worker_env(args.rabbitmq_url, args.database_url, schema, prefix, BATON_CONFIG=str(settings.config),
                     BATON_BATCH_SIZE=str(args.batch_size))
    workers: list[WorkerProcess] = []
    try:
        with fake_salesforce() as (org, salesforce):
            org.bulk.page_size = args.page_size
            current = bootstrap(settings, owner_writer=SalesforceOwnerWriter(salesforce))
            workers = [WorkerProcess(env, folder / f"worker-{n}.log", args.threads).start()
                       for n in range(args.workers)]
            groups = [w.process.pid for w in workers if w.process]
            fleet_cpu = lambda: group_cpu_s(groups)
            bench_reassign(current, org, salesforce, WARM_UP_RECORDS, None, fleet_cpu)  # workers up and warm
            realtime = bench_realtime(current, org, args.realtime_records, args.rate) if args.realtime_records else None
            batch, seconds, cpu_ms = bench_reassign(current, org, salesforce, args.records, None, fleet_cpu)
            facts = len(org.field_values)
    finally:
        for worker in workers:
            worker.stop()
        delete_queues(args.rabbitmq_url, prefix)
        _drop_schema(args.database_url, schema)
    return {"realtime": realtime, "batch": batch, "seconds": seconds, "cpu_ms": cpu_ms, "store": "postgresql",
            "workers": args.workers, "threads": args.threads, "fact_records": facts}


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def run_child_fleet(args: argparse.Namespace) -> dict[str, object]:
    """The RabbitMQ run in a child process: a process binds its stage actors to one broker only."""
    command = [sys.executable, __file__, "--broker", "rabbitmq", "--realtime-records", "0", "--raw",
               "--records", str(args.records), "--batch-size", str(args.batch_size), "--page-size",
               str(args.page_size), "--threads", str(args.threads), "--workers", str(args.workers),
               "--database-url", args.database_url, "--rabbitmq-url", args.rabbitmq_url,
               *(["--writeback"] if args.writeback else [])]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def describe(name: str, result: dict[str, object], records: int) -> str:
    where = f"{result.get('workers')} worker processes × {result.get('threads')} threads, " if "workers" in result else ""
    return (f"{name}: reassign {records} records in {result['seconds']:.1f} s ({where}{result['store']}), "
            f"{result['cpu_ms']:.3f} CPU ms per record, {result['batch']:.2f} Bulk calls per 1,000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=FULL_JOB_RECORDS, help="records of the reassign job")
    parser.add_argument("--realtime-records", type=int, default=1_000, help="0 skips the real-time measurement")
    parser.add_argument("--rate", type=float, default=100.0, help="real-time records per second")
    parser.add_argument("--batch-size", type=int, default=100, help="records per queue message (BATON_BATCH_SIZE)")
    parser.add_argument("--page-size", type=int, default=2_000, help="records per Bulk query results page")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (per process on RabbitMQ)")
    parser.add_argument("--broker", choices=("embedded", "rabbitmq", "both"), default="embedded")
    parser.add_argument("--workers", type=int, default=2, help="dramatiq worker processes (RabbitMQ)")
    parser.add_argument("--rabbitmq-url", default=RABBITMQ_URL)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--writeback", action="store_true",
                        help="the config maps Lead's routing facts (writeback: Lead: default), written with each owner")
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    if args.broker == "rabbitmq":
        results = {"rabbitmq": run_fleet(args, folder)}
    else:
        results = {"embedded": run_embedded(args, folder)}
        if args.broker == "both":
            results["rabbitmq"] = run_child_fleet(args)
    if args.raw:
        print(json.dumps(results["rabbitmq"]))
        return
    first = next(iter(results.values()))
    realtime = first["realtime"]
    if realtime is not None:
        print(f"real time: {realtime:.1f} calls per 1,000 records ({args.realtime_records} at {args.rate:g}/s)",
              file=sys.stderr)
    for name, result in results.items():
        print(describe(name, result, args.records), file=sys.stderr)
    summary: dict[str, object] = {
        "api_calls_per_1000_realtime": round(realtime, 2) if realtime is not None else None,
        "api_calls_per_1000_batch": round(first["batch"], 3),  # type: ignore[arg-type]
        "reassign_100k_s": round(first["seconds"], 1) if args.records == FULL_JOB_RECORDS else None,  # type: ignore[arg-type]
        "batch_records": args.records, "realtime_records": args.realtime_records,
    }
    for name, result in results.items():
        summary[f"{name}_reassign_s"] = round(result["seconds"], 1)  # type: ignore[arg-type]
        summary[f"{name}_cpu_ms_per_record"] = round(result["cpu_ms"], 3)  # type: ignore[arg-type]
        summary[f"{name}_store"] = result["store"]
        if args.writeback:
            summary[f"{name}_records_with_routing_facts"] = result["fact_records"]
    if "rabbitmq" in results:
        summary["rabbitmq_workers"] = args.workers
        if args.records == FULL_JOB_RECORDS:
            summary["reassign_100k_s_rabbitmq"] = summary["rabbitmq_reassign_s"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
