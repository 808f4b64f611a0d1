"""Salesforce API calls per 1,000 records (real time and batch) and the time to reassign many records.

Everything runs in this process on the embedded default (in-process broker and worker, SQLite unless
``--database-url`` names PostgreSQL) against the fake org of ``tests/support`` over HTTPS:

- real time: ``--realtime-records`` single-record messages at ``--rate`` records/s through the pipeline, with the
  real outbox flusher (``baton.flusher.Flusher``) ticking every second; calls = sObject Collections requests.
- batch: one reassign job (``baton.reassign.run.run_job``) over ``--records`` leads read by a Bulk API 2.0 query
  (``--page-size`` records a results page) and written by ingest; calls = every Bulk API request, its wall time
  from job start to the last owner written.

OAuth token requests are not API calls and are not counted. Last line: one JSON object.

    python bench/salesforce.py                       # 1,000 real-time records, 100,000-record reassign
    python bench/salesforce.py --records 20000 --realtime-records 300
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dramatiq import Worker  # noqa: E402
from dramatiq.brokers.stub import StubBroker  # noqa: E402
from simple_salesforce import Salesforce  # noqa: E402

from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter  # noqa: E402
from adapters.salesforce.writer import SalesforceOwnerWriter  # noqa: E402
from baton.bootstrap import bootstrap, build_flusher  # noqa: E402
from baton.clock import utc_now  # noqa: E402
from baton.ingest import enqueue  # noqa: E402
from baton.reassign import jobs  # noqa: E402
from baton.reassign.run import JobContext, run_job  # noqa: E402
from baton.runtime import Runtime  # noqa: E402
from baton.settings import Settings  # noqa: E402
from messages import RecordEvent, Source  # noqa: E402
from tests.support.configs import team_config  # noqa: E402
from tests.support.fake_salesforce import FakeOrg, fake_salesforce  # noqa: E402

QUEUE_OWNER = "00G000000000001AAA"
FULL_JOB_RECORDS = 100_000
WAIT_POLL_S = 0.1


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
    while len(org.owners) < count or store.due_outbox(utc_now() + timedelta(days=1), "realtime", 1):
        time.sleep(WAIT_POLL_S)
    flusher.stopped.set()
    thread.join()
    return (len(org.calls) - calls_before) * 1000 / count


def bench_reassign(current: Runtime, org: FakeOrg, salesforce: Salesforce, count: int) -> tuple[float, float]:
    """(Bulk API calls per 1,000 records, seconds) of one reassign job over ``count`` leads."""
    org.records["Lead"] = [{"Id": f"00Q{n:012d}AAA", "OwnerId": QUEUE_OWNER, "LastName": f"Lead {n}",
                            "Company": f"Company {n % 997}", "Country": "Germany"} for n in range(1, count + 1)]
    settings, store, broker = current.settings, current.ports.store, current.broker
    assert isinstance(broker, StubBroker)
    client = BulkClient(salesforce, poll_ms=settings.bulk_poll_ms)
    calls_before = len(org.bulk.requests)
    started = time.monotonic()
    job = jobs.create_job(store, jobs.SOURCE_SOQL, "SELECT Id, OwnerId, LastName, Company, Country FROM Lead",
                          "Lead", False, utc_now())
    ctx = JobContext(store, broker, settings, client, BulkOwnerWriter(client), current.ports.clock,
                     idle=lambda: all(q.unfinished_tasks == 0 for q in broker.queues.values()))
    report = run_job(job, ctx)
    elapsed_s = time.monotonic() - started
    assert report.ok and report.writes["sent"] == count, report.job.counts
    return (len(org.bulk.requests) - calls_before) * 1000 / count, elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=FULL_JOB_RECORDS, help="records of the reassign job")
    parser.add_argument("--realtime-records", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=100.0, help="real-time records per second")
    parser.add_argument("--batch-size", type=int, default=100, help="records per queue message (BATON_BATCH_SIZE)")
    parser.add_argument("--page-size", type=int, default=2_000, help="records per Bulk query results page")
    parser.add_argument("--threads", type=int, default=8, help="embedded worker threads")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    config = folder / "org.yaml"
    config.write_text(team_config(members=5))
    settings = Settings(broker_url="", database_url=args.database_url or f"sqlite:///{folder / 'baton.sqlite3'}",
                        config=config, batch_size=args.batch_size, worker_threads=args.threads, log_level="WARNING",
                        bulk_poll_ms=50, flush_interval_ms=1_000)
    with fake_salesforce() as (org, salesforce):
        org.bulk.page_size = args.page_size
        current = bootstrap(settings, owner_writer=SalesforceOwnerWriter(salesforce))
        worker = Worker(current.broker, worker_threads=args.threads, worker_timeout=50)
        worker.start()
        try:
            realtime = bench_realtime(current, org, args.realtime_records, args.rate)
            batch, reassign_s = bench_reassign(current, org, salesforce, args.records)
        finally:
            worker.stop()
    store_kind = "postgresql" if "postgresql" in settings.database_url else "sqlite"
    print(f"real time: {realtime:.1f} calls per 1,000 records ({args.realtime_records} at {args.rate:g}/s); "
          f"batch: {batch:.2f} calls per 1,000 ({args.records} records, {args.page_size} a page); "
          f"reassign {args.records} records in {reassign_s:.1f} s on {store_kind}", file=sys.stderr)
    print(json.dumps({"api_calls_per_1000_realtime": round(realtime, 2), "api_calls_per_1000_batch": round(batch, 3),
                      "reassign_100k_s": round(reassign_s, 1) if args.records == FULL_JOB_RECORDS else None,
                      "reassign_s": round(reassign_s, 1), "batch_records": args.records,
                      "realtime_records": args.realtime_records, "store": store_kind}))


if __name__ == "__main__":
    main()
