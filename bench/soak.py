"""Soak: a steady stream of records and bookings through real worker processes for a long time.

Real RabbitMQ and PostgreSQL (``BATON_TEST_RABBITMQ_URL``/``BATON_TEST_POSTGRES_URL``, else the machine's),
``--workers`` single-process ``dramatiq`` workers and the outbox flusher, the fake Salesforce org and fake
Google Calendar on 127.0.0.1 (``tests/support``). A producer publishes ``--records-per-s`` lead events
(``--batch-size`` records a message, as outbound messages and CDC batches arrive) and ``--bookings-per-s``
booking requests for distinct hosts and slots. Every ``--sample-s`` it prints one line: records sent and
decided, p50/p99 latency from publish to the stored owner decision in that window, resident memory of the
worker processes, dead letters and the queue backlog. Then it stops the producer, waits until everything
settled, and counts what was lost or doubled.

    python bench/soak.py [--duration-s 3600] [--records-per-s 100] [--bookings-per-s 5] [--workers 4]

The default duration is an hour (60 s under ``CI=true``). Memory growth is measured from the first
sample after ``--warm-up-s`` (default 10% of the run, at least 20 s) to the last. The run passes when its
claims hold (``assert_soak_claims``): nothing lost, doubled or dead-lettered, the producer alive and
sending to the end, and at least 90% of the asked record and booking rates sent (``--max-rss-growth-pct``
and ``--max-p99-ms`` add memory and latency bounds). ``--kill-producer-after-s`` makes the record producer
die early, to show that a dead producer fails the run. The last line is one JSON object, the run's row,
also recorded in the build folder's results file (``build/reliability/results.json``; publish it to
docs/reliability.md with ``python -m tests.support.reliability_doc``). Figures come from a shared 2-core
machine: they are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.store.tables import assignments  # noqa: E402
from baton.chains import BOOKING  # noqa: E402
from tests.support.events import lead_event  # noqa: E402
from tests.support.fault_run import (  # noqa: E402
    SOAK_HOSTS,
    FaultRun,
    assert_nothing_lost,
    bench_fault_run,
    booking_requests,
    start_cluster,
)
from tests.support.run_counts import RunCounts, judged, record_run  # noqa: E402
from tests.support.services import WorkerProcess, stage_queues  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"
PAGE_KB = 4
RATE_SHARE = 0.9  # of the asked rates, sent over the run
LAST_SEND_SLACK_S = 5.0  # the producer sent within this long before it was stopped


class ProducerKilled(RuntimeError):
    """Raised in the record producer by ``--kill-producer-after-s``."""


def resident_mb(run: FaultRun) -> float:
    """Resident memory of every worker process (the dramatiq parent and its one worker child)."""
    groups = {p.process.pid for p in run.processes if isinstance(p, WorkerProcess) and p.process and p.running}
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid in groups:
                total_kb += int((entry / "statm").read_text().split()[1]) * PAGE_KB
        except (OSError, ValueError, IndexError):
            continue
    return round(total_kb / 1024, 1)


class QueueDepths:
    """Ready messages per queue of the run, by passive declares on one connection (cheaper than
    rabbitmqctl every few seconds)."""

    def __init__(self, url: str, prefix: str):
        self.names = stage_queues(prefix)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()

    def __call__(self) -> dict[str, int]:
        depths: dict[str, int] = {}
        for name in self.names:
            try:
                depths[name] = self.channel.queue_declare(name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:  # not declared (yet)
                self.channel = self.connection.channel()
        return depths

    def close(self) -> None:
        self.connection.close()


def latencies_ms(run: FaultRun, since: datetime, until: datetime) -> list[float]:
    """Publish (the event's commit time) to stored decision, for routed records decided in the window."""
    query = sa.select(assignments.c.event_at, assignments.c.decided_at).where(
        assignments.c.decided_at >= since, assignments.c.decided_at < until, assignments.c.method != "booking")
    with run.store.engine.connect() as connection:
        return [(row.decided_at - row.event_at).total_seconds() * 1000 for row in connection.execute(query)]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))], 1)


class Producer:
    """Publishes records and bookings at their rates in two threads until stopped; remembers when each
    thread last sent, whether both were still alive when stopped, and the error a thread died of."""

    def __init__(self, run: FaultRun, records_per_s: float, bookings_per_s: float, batch_size: int,
                 duration_s: float, kill_after_s: float | None = None):
        self.run = run
        self.records_per_s = records_per_s
        self.bookings_per_s = bookings_per_s
        self.batch_size = batch_size
        self.kill_after_s = kill_after_s
        self.events: list = []
        self.bookings_sent = 0
        self.stop = threading.Event()
        self.requests = booking_requests(int(bookings_per_s * duration_s) + 10, datetime.now(UTC), SOAK_HOSTS)
        self.threads = [threading.Thread(target=self._records, daemon=True, name="records"),
                        threading.Thread(target=self._bookings, daemon=True, name="bookings")]
        self.threads = self.threads if bookings_per_s > 0 else self.threads[:1]
        self.last_sent: dict[str, float] = {}
        self.errors: list[str] = []
        self.alive_at_stop = False
        self.started_at = self.stopped_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.alive_at_stop = all(thread.is_alive() for thread in self.threads)
        self.stopped_at = time.monotonic()
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def silent_before_stop_s(self) -> float:
        """How long before the stop the quieter thread last sent (since the start if it never sent)."""
        last = [self.last_sent.get(thread.name, self.started_at) for thread in self.threads]
        return round(self.stopped_at - min(last), 1)

    def _paced(self, per_s: float, send: Callable[[], int]) -> None:
        name = threading.current_thread().name
        began = time.monotonic()
        sent = 0
        try:
            while not self.stop.is_set():
                due = (time.monotonic() - began) * per_s
                if sent >= due:
                    time.sleep(min(0.05, (sent - due + 1) / per_s))
                    continue
                sent += send()
                self.last_sent[name] = time.monotonic()
        except Exception as error:
            self.errors.append(f"{name}: {error!r}")
            raise

    def _records(self) -> None:
        began = time.monotonic()

        def send() -> int:
            if self.kill_after_s is not None and time.monotonic() - began > self.kill_after_s:
                raise ProducerKilled(f"killed after {self.kill_after_s:g} s (--kill-producer-after-s)")
            first = len(self.events) + 1
            now = datetime.now(UTC)
            batch = [lead_event(n, at=now) for n in range(first, first + self.batch_size)]
            self.run.producer.publish(batch, batch_size=self.batch_size)
            self.events.extend(batch)
            return len(batch)

        self._paced(self.records_per_s, send)

    def _bookings(self) -> None:
        def send() -> int:
            if self.bookings_sent >= len(self.requests):
                return 1
            self.run.producer.send(BOOKING.first, self.requests[self.bookings_sent])
            self.bookings_sent += 1
            return 1

        self._paced(self.bookings_per_s, send)


def soak_load(records_per_s: float, bookings_per_s: float, batch_size: int, duration_s: float, workers: int,
              threads: int) -> str:
    return (f"{records_per_s:g} records/s (batches of {batch_size}) + {bookings_per_s:g} bookings/s for "
            f"{int(duration_s)} s, {workers} workers x {threads} threads + flusher")


def assert_soak_claims(counts: RunCounts, max_rss_growth_pct: float | None = None,
                       max_p99_ms: float | None = None) -> None:
    """Nothing lost, doubled or dead-lettered; the producer alive and sending to the end; at least
    RATE_SHARE of the asked rates sent; and, when given, memory growth and the steady windows' median p99
    within their bounds."""
    figures = counts.figures
    assert_nothing_lost(counts)
    assert counts.sent > 0 and (counts.bookings > 0 or not figures["bookings_per_s_asked"]), counts
    assert figures["dead_letters_end"] == figures["dead_letters_start"] == 0, figures
    assert figures["producer_alive_to_end"] == 1, f"the producer died before the end: {figures}"
    assert figures["producer_silent_before_end_s"] <= LAST_SEND_SLACK_S, f"the producer stopped sending: {figures}"
    for kind in ("records", "bookings"):
        asked, reached = figures[f"{kind}_per_s_asked"], figures[f"{kind}_per_s"]
        assert reached >= RATE_SHARE * asked, f"{kind}: {reached}/s sent, {asked}/s asked: {figures}"
    if max_rss_growth_pct is not None:
        assert figures["rss_growth_pct"] is not None and figures["rss_growth_pct"] <= max_rss_growth_pct, figures
    if max_p99_ms is not None:
        p99 = figures["p99_ms_median_of_windows"]
        assert p99 is not None and p99 <= max_p99_ms, f"p99 {p99} ms over {max_p99_ms} ms: {figures}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=60 if IN_CI else 3600)
    parser.add_argument("--records-per-s", type=float, default=100)
    parser.add_argument("--bookings-per-s", type=float, default=5)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--warm-up-s", type=float, default=None)
    parser.add_argument("--record-as", default=None, help="row name in the results (default from duration)")
    parser.add_argument("--max-rss-growth-pct", type=float, default=None)
    parser.add_argument("--max-p99-ms", type=float, default=None, help="bound on the steady windows' median p99")
    parser.add_argument("--kill-producer-after-s", type=float, default=None,
                        help="the record producer dies after this long (shows that a dead producer fails)")
    args = parser.parse_args()
    load = soak_load(args.records_per_s, args.bookings_per_s, args.batch_size, args.duration_s, args.workers,
                     args.threads)
    counts = RunCounts(args.record_as or f"bench/soak.py {int(args.duration_s)} s", load, "none (steady load)")
    warm_up_s = args.warm_up_s if args.warm_up_s is not None else max(20.0, args.duration_s / 10)
    samples: list[dict[str, object]] = []
    with bench_fault_run("soak") as run:
        start_cluster(run, workers=args.workers, threads=args.threads, hosts=SOAK_HOSTS)
        warm = lead_event(0)
        run.producer.publish([warm], batch_size=1)
        while run.assignments() < 1:
            time.sleep(0.2)
        producer = Producer(run, args.records_per_s, args.bookings_per_s, args.batch_size, args.duration_s,
                            args.kill_producer_after_s)
        queue_depths = QueueDepths(run.urls["rabbitmq"], run.prefix)
        began = time.monotonic()
        producer.start()
        window_start = datetime.now(UTC)
        try:
            while (elapsed := time.monotonic() - began) < args.duration_s:
                time.sleep(min(args.sample_s, max(0.0, args.duration_s - elapsed)))
                window_end = datetime.now(UTC)
                window = latencies_ms(run, window_start, window_end)
                depths = queue_depths()
                sample = {
                    "t_s": round(time.monotonic() - began), "sent": len(producer.events),
                    "decided": run.assignments(), "window_decided": len(window),
                    "p50_ms": percentile(window, 0.5), "p99_ms": percentile(window, 0.99),
                    "rss_mb": resident_mb(run), "dead_letters": len(run.store.administration.dead_letters()),
                    "dlq": sum(n for name, n in depths.items() if name.endswith(".XQ")),
                    "backlog": sum(n for name, n in depths.items() if not name.endswith(".XQ")),
                }
                samples.append(sample)
                print(" ".join(f"{key}={value}" for key, value in sample.items()), flush=True)
                window_start = window_end
        finally:
            producer.join()
            queue_depths.close()
        sent_s = time.monotonic() - began
        events = [warm, *producer.events]
        run.wait_until_settled([e.record_id for e in events], producer.bookings_sent,
                               timeout_s=max(300.0, args.duration_s / 4))
        counts.sent = len(events)
        run.count(counts, events, producer.requests[: producer.bookings_sent])
        booking_ms = booking_latencies_ms(run)
    steady = [s for s in samples if float(s["t_s"]) >= warm_up_s] or samples[-1:]
    rss_start, rss_end = float(steady[0]["rss_mb"]), float(samples[-1]["rss_mb"])
    p99s = [float(s["p99_ms"]) for s in steady if s["p99_ms"] is not None]
    all_latencies = [float(s["p99_ms"]) for s in samples if s["p99_ms"] is not None]
    figures: dict[str, float | int | None] = {
        "duration_s": round(sent_s), "records_per_s": round(len(producer.events) / sent_s, 1),
        "records_per_s_asked": args.records_per_s, "bookings_per_s": round(producer.bookings_sent / sent_s, 2),
        "bookings_per_s_asked": args.bookings_per_s, "producer_alive_to_end": int(producer.alive_at_stop),
        "producer_silent_before_end_s": producer.silent_before_stop_s(),
        "rss_start_mb": rss_start, "rss_end_mb": rss_end,
        "rss_growth_pct": round((rss_end - rss_start) / rss_start * 100, 1) if rss_start else None,
        "dead_letters_start": steady[0]["dead_letters"], "dead_letters_end": samples[-1]["dead_letters"],
        "p99_ms_first": p99s[0] if p99s else None, "p99_ms_last": p99s[-1] if p99s else None,
        "p99_ms_max": max(all_latencies) if all_latencies else None,
        "p99_ms_median_of_windows": round(statistics.median(p99s), 1) if p99s else None,
        "booking_p99_ms": percentile(booking_ms, 0.99),
    }
    counts.figures = figures
    for error in producer.errors:
        print(f"producer died: {error}")
    record_run(judged(counts, lambda ran: assert_soak_claims(ran, args.max_rss_growth_pct, args.max_p99_ms)))
    print(json.dumps(counts.row()))


def booking_latencies_ms(run: FaultRun) -> list[float]:
    """Reserved to confirmed, for every confirmed booking."""
    return [(row.updated_at - row.created_at) / timedelta(milliseconds=1) for row in run.bookings()
            if row.status == "confirmed"]


if __name__ == "__main__":
    main()
