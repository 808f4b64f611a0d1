"""Google Calendar adapter latency against the fake Calendar server (in its own process).

Times, through the real google-api-python-client: free/busy of 120 calendars (3 freebusy calls), an event
insert with a Meet link, the same insert retried (409, then a read), and a cancel. The last line is one
JSON object: ``{"freebusy_120_p50_ms": ..., "insert_p95_ms": ..., ...}``.

    PYTHONPATH=$PWD python bench/calendar_events.py --bookings 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from adapters.calendar import CalendarEvent, calendar_event_id
from adapters.calendar.google import GoogleCalendar, load_service_account
from baton.logging import configure_logging

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CALENDARS = 120
BUSY_BLOCKS = 20


def _serve(folder: str, conn: Connection) -> None:
    from entrypoints.demo.fake_calendar import fake_google_calendar

    busy = {f"host{n}@example.com": [(START + timedelta(hours=7 * b), START + timedelta(hours=7 * b, minutes=45))
                                     for b in range(BUSY_BLOCKS)] for n in range(CALENDARS)}
    with fake_google_calendar(Path(folder), busy=busy) as fake:
        conn.send((fake.api_url, str(fake.key_file)))
        conn.recv()


def _timed(action: Callable[[], object], times: int) -> list[float]:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        spent.append((time.perf_counter() - began) * 1000)
    return spent


def _percentiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=200)
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    ours, theirs = multiprocessing.Pipe()
    with tempfile.TemporaryDirectory() as folder:
        server = multiprocessing.Process(target=_serve, args=(folder, theirs), daemon=True)
        server.start()
        api_url, key_file = ours.recv()
        calendar = GoogleCalendar(load_service_account(Path(key_file)), "admin@example.com", api_url)
        emails = [f"host{n}@example.com" for n in range(CALENDARS)]
        calendar.busy(emails[:1], START, START + timedelta(days=14))  # token exchange, not timed
        freebusy = _timed(lambda: calendar.busy(emails, START, START + timedelta(days=14)), 50)
        events = [CalendarEvent(calendar_event_id(f"bench-{n}"), emails[n % CALENDARS], "Demo", "", START,
                                START + timedelta(minutes=30), ("guest@prospect.io",), True)
                  for n in range(args.bookings)]
        for email in emails:  # one token per host, exchanged before timing
            calendar.cancel_event(email, calendar_event_id("warm-up"))
        pending = iter(events)
        inserts = _timed(lambda: calendar.create_event(next(pending)), len(events))
        pending = iter(events)
        retries = _timed(lambda: calendar.create_event(next(pending)), len(events))
        pending = iter(events)
        cancels = _timed(lambda: _cancel(calendar, next(pending)), len(events))
        ours.send("stop")
        server.join(timeout=10)
    figures = {}
    for name, values in (("freebusy_120", freebusy), ("insert", inserts), ("insert_retry_409", retries),
                         ("cancel", cancels)):
        p50, p95 = _percentiles(values)
        figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = round(p50, 2), round(p95, 2)
        print(f"{name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(values)} calls")
    print(f"API calls: {dict(calendar.calls)}")
    print(json.dumps(figures))


def _cancel(calendar: GoogleCalendar, event: CalendarEvent) -> None:
    calendar.cancel_event(event.organizer_email, event.event_id)


if __name__ == "__main__":
    main()
