"""Booking latency: from POST /bookings to the booking's status ``confirmed``.

The whole chain runs in this process: the FastAPI app (through Starlette's TestClient), the in-process
broker with a dramatiq Worker, a SQLite store, the real Google client (google-api-python-client, service
account token exchange) against the fake Google Calendar server and simple-salesforce against the fake
Salesforce org (Event upsert over HTTPS), both on 127.0.0.1. Each client posts a booking of the pooled
three-host team and polls GET /bookings/{id} every 5 ms until it is confirmed; ``confirmed`` means the
calendar event (with Meet), the Salesforce Event and the owner's outbox row exist (the outbox flusher
writes the owner afterwards, as for routed records).

    python bench/booking.py [--bookings 60] [--clients 2]

The last line is one JSON object: p50/p95/max ms from POST to confirmed, bookings, failures, and the
calendar API requests made.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes live in tests/support

from dramatiq import Worker
from fastapi.testclient import TestClient

from adapters.calendar.google import GoogleCalendar, load_service_account
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.writer import SalesforceOwnerWriter
from baton.bootstrap import bootstrap
from baton.configs import apply_config
from baton.settings import Settings
from entrypoints.demo.fake_calendar import fake_google_calendar
from entrypoints.demo.fake_salesforce import fake_salesforce
from entrypoints.http.app import create_app
from tests.support.booking import NINE, NOW, TOKEN, booking_config, booking_request

POLL_S = 0.005
TIMEOUT_S = 30.0
HOSTS_PER_SLOT = 3


def starts() -> Iterator[datetime]:
    """Every hour of the weekdays from Monday 09:00 on, each once per pooled host (the 10-minute buffers
    leave a host who met at 09:00 busy at 09:30)."""
    day = NINE
    while True:
        if day.weekday() < 5:
            for hours in range(8):
                for _ in range(HOSTS_PER_SLOT):
                    yield day + timedelta(hours=hours)
        day += timedelta(days=1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def book_once(client: TestClient, start: datetime, index: int) -> tuple[float, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    began = time.perf_counter()
    answer = client.post("/bookings", json=booking_request(start=start.isoformat(), request_id=f"bench-{index}",
                                                           guest_email=f"guest{index}@prospect.example.org"),
                         headers=headers)
    if answer.status_code != 202:
        return time.perf_counter() - began, f"http {answer.status_code}"
    url = answer.json()["status_url"]
    while time.perf_counter() - began < TIMEOUT_S:
        status = client.get(url, headers=headers).json()["status"]
        if status in ("confirmed", "failed"):
            return time.perf_counter() - began, status
        time.sleep(POLL_S)
    return time.perf_counter() - began, "timeout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fake_google_calendar(Path(tmp)) as calendar_fake, \
            fake_salesforce() as (org, salesforce):
        assert calendar_fake.key_file is not None
        settings = Settings(broker_url="", database_url=f"sqlite:///{tmp}/bench.sqlite3", queue_prefix="bench",
                            log_level="WARNING", min_backoff_ms=10, max_backoff_ms=100, max_retries=3,
                            booking_token=TOKEN, booking_rate_per_minute=1_000_000)  # the clock is fixed: no limit
        current = bootstrap(
            settings, clock=lambda: NOW, owner_writer=SalesforceOwnerWriter(salesforce=salesforce),
            calendar=GoogleCalendar(load_service_account(calendar_fake.key_file), "admin@example.com",
                                    calendar_fake.api_url),
            salesforce_events=SalesforceEventWriter(salesforce=salesforce),
        )
        apply_config(current.ports.store.administration, booking_config(), NOW)
        worker = Worker(current.broker, worker_timeout=5, worker_threads=8)
        worker.start()
        client = TestClient(create_app(current))
        times = iter(starts())
        lock = threading.Lock()
        results: list[tuple[float, str]] = []
        counter = iter(range(args.bookings))

        def run() -> None:
            while True:
                with lock:
                    index = next(counter, None)
                    start = next(times)
                if index is None:
                    return
                outcome = book_once(client, start, index)
                with lock:
                    results.append(outcome)

        book_once(client, next(times), -1)  # warm-up: token exchange, first connections
        began = time.perf_counter()
        threads = [threading.Thread(target=run) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_s = time.perf_counter() - began
        worker.stop()
    confirmed = [seconds * 1000 for seconds, status in results if status == "confirmed"]
    failures = len(results) - len(confirmed)
    outcomes = sorted({status for _, status in results} - {"confirmed"})
    figures = {
        "p50_ms": round(statistics.median(confirmed), 1) if confirmed else None,
        "p95_ms": round(percentile(confirmed, 0.95), 1) if confirmed else None,
        "max_ms": round(max(confirmed), 1) if confirmed else None,
        "bookings": len(results), "clients": args.clients, "failures": failures,
        "bookings_per_s": round(len(results) / wall_s, 1),
        "calendar_requests": len(calendar_fake.requests), "salesforce_events": len(org.events.records),
    }
    print(f"POST /bookings -> confirmed, {len(results)} bookings by {args.clients} clients "
          f"({failures} not confirmed{': ' + ', '.join(outcomes) if outcomes else ''}), {figures['bookings_per_s']} bookings/s")
    print(f"  p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms  max {figures['max_ms']} ms (target p95 < 3000 ms)")
    print(f"  calendar API requests {figures['calendar_requests']}, Salesforce Events {figures['salesforce_events']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
