"""Availability speed: a pool of 50 hosts over 14 days with 20 busy blocks each.

Each request asks the calendar for the pool's free/busy over ``busy_range``, adds Baton's own
reservations, out of office and holidays, and finds the slots of a pooled request over the
14-day horizon. The calendar is the real Google adapter (google-api-python-client, service
account token exchange) against the fake Google Calendar server on 127.0.0.1 (in a process of
its own), which counts the freebusy requests it receives; ``--calendar memory`` uses the port's
in-memory RecordingCalendar. Timed (p50/p95): everything but the calendar answer, whose own
latency is printed apart. The hosts work in three time zones; ``now`` moves by 7 minutes per
request.

    python bench/availability.py [--hosts 50] [--busy 20] [--requests 300] [--mode pooled]
                                 [--calendar google|memory]

The last line is one JSON object: p50/p95 ms per request, freebusy calls per request, and the
same figures for a round-robin request with a threshold (which reads the whole horizon).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes live in tests/support

from adapters.calendar import Calendar, RecordingCalendar
from routing.booking.absences import unavailable_intervals
from routing.booking.config import BookingType
from routing.booking.pools import HostRequest, available_slots, busy_range
from routing.booking.slots import HostSchedule, Interval
from routing.teams import Member, Team

SEED = 20261123
ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata")
HOLIDAYS = ("US", "DE", "IN")
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
REQUEST_STEP = timedelta(minutes=7)
HORIZON_DAYS = 14


def _team(rng: random.Random, hosts: int) -> Team:
    members = []
    for index in range(hosts):
        zone = index % len(ZONES)
        away = START + timedelta(days=rng.randrange(HORIZON_DAYS), hours=rng.randrange(24))
        members.append(
            {
                "id": f"005{index:012d}AAA",
                "email": f"host{index}@example.com",
                "timezone": ZONES[zone],
                "holiday_country": HOLIDAYS[zone],
                "out_of_office": [
                    {"start": away.isoformat(), "end": (away + timedelta(hours=20)).isoformat()}
                ],
            }
        )
    return Team.model_validate({"name": "Pool", "members": members})


def _busy_blocks(rng: random.Random, count: int) -> list[Interval]:
    blocks = []
    for _ in range(count):
        start = START + timedelta(days=rng.randrange(HORIZON_DAYS), minutes=15 * rng.randrange(96))
        blocks.append(Interval(start, start + timedelta(minutes=rng.choice((30, 45, 60, 90, 120)))))
    return blocks


def _reservations(rng: random.Random, members: Sequence[Member]) -> dict[str, list[Interval]]:
    return {member.id: _busy_blocks(rng, 2) for member in members}


def _schedules(
    team: Team,
    calendar_busy: dict[str, list[Interval]],
    reservations: dict[str, list[Interval]],
    window: Interval,
) -> dict[str, HostSchedule]:
    schedules = {}
    for member in team.members:
        busy = (
            *calendar_busy[member.email or ""],
            *reservations[member.id],
            *unavailable_intervals(member, team, window),
        )
        schedules[member.id] = HostSchedule(member.id, member.timezone, busy)
    return schedules


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Measured:
    core_ms: list[float] = field(default_factory=list)
    calendar_ms: list[float] = field(default_factory=list)
    freebusy_calls: int = 0
    slots: int = 0

    def per_request(self, total: int) -> float | int:
        value = total / len(self.core_ms)
        return int(value) if value.is_integer() else round(value, 2)


def _run(
    team: Team,
    calendar: Calendar,
    count_freebusy: Callable[[], int],
    reservations: dict[str, list[Interval]],
    request: HostRequest,
    requests: int,
) -> Measured:
    booking_type = BookingType(
        name="Discovery",
        duration_minutes=30,
        buffer_after_minutes=10,
        minimum_notice_minutes=30,
        horizon_days=HORIZON_DAYS,
        slot_step_minutes=15,
    )
    emails = [member.email or "" for member in team.members]
    counts = {member.id: index % 7 for index, member in enumerate(team.members)}
    measured = Measured()
    calls_before = count_freebusy()
    for number in range(requests):
        now = START + number * REQUEST_STEP
        window = Interval(now, now + timedelta(days=HORIZON_DAYS, hours=1))
        asked = busy_range(booking_type, request, window, now)
        began = time.perf_counter()
        calendar_busy = calendar.busy(emails, asked.start, asked.end)
        answered = time.perf_counter()
        schedules = _schedules(team, calendar_busy, reservations, asked)
        found = available_slots(booking_type, request, schedules, counts, window, now)
        measured.core_ms.append((time.perf_counter() - answered) * 1000)
        measured.calendar_ms.append((answered - began) * 1000)
        measured.slots += len(found)
    measured.freebusy_calls = count_freebusy() - calls_before
    return measured


def _serve_fake_calendar(
    spans: dict[str, list[tuple[datetime, datetime]]], folder: str, conn: Connection
) -> None:
    """In its own process, so the fake server never competes with the timed code for the GIL."""
    from entrypoints.demo.fake_calendar import fake_google_calendar

    with fake_google_calendar(Path(folder), busy=spans) as fake:
        conn.send((fake.api_url, str(fake.key_file), fake.domain))
        while conn.recv() == "count":
            conn.send(len(fake.freebusy_requests))


@contextmanager
def _calendar(
    kind: str, busy: dict[str, list[Interval]]
) -> Iterator[tuple[Calendar, Callable[[], int]]]:
    """The calendar to ask and a count of the freebusy requests it has received."""
    if kind == "memory":
        recording = RecordingCalendar(busy)
        yield recording, lambda: recording.calls["freebusy"]
        return
    from adapters.calendar.google import GoogleCalendar, load_service_account

    spans = {email: [(b.start, b.end) for b in blocks] for email, blocks in busy.items()}
    ours, theirs = multiprocessing.Pipe()
    with tempfile.TemporaryDirectory() as folder:
        server = multiprocessing.Process(
            target=_serve_fake_calendar, args=(spans, folder, theirs), daemon=True
        )
        server.start()
        try:
            api_url, key_file, domain = ours.recv()
            google = GoogleCalendar(
                load_service_account(Path(key_file)), f"scheduler@{domain}", api_url
            )

            def count() -> int:
                ours.send("count")
                return int(ours.recv())

            yield google, count
        finally:
            ours.send("stop")
            server.join(timeout=10)


def _summary(label: str, measured: Measured) -> str:
    return (
        f"{label}: p50 {statistics.median(measured.core_ms):.2f} ms, "
        f"p95 {_percentile(measured.core_ms, 0.95):.2f} ms, "
        f"{measured.per_request(measured.slots)} slots per answer, "
        f"{measured.per_request(measured.freebusy_calls)} freebusy calls per request "
        f"(calendar answer p50 {statistics.median(measured.calendar_ms):.1f} ms, not included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--busy", type=int, default=20, help="calendar busy blocks per host")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--mode", choices=("pooled", "manual"), default="pooled")
    parser.add_argument("--calendar", choices=("google", "memory"), default="google")
    args = parser.parse_args()

    rng = random.Random(SEED)
    team = _team(rng, args.hosts)
    busy = {m.email or "": _busy_blocks(rng, args.busy) for m in team.members}
    reservations = _reservations(rng, team.members)
    candidates = tuple(member.id for member in team.members)
    with _calendar(args.calendar, busy) as (calendar, count_freebusy):
        _run(
            team, calendar, count_freebusy, reservations, HostRequest(candidates, args.mode), 3
        )  # warm-up
        pooled = _run(
            team,
            calendar,
            count_freebusy,
            reservations,
            HostRequest(candidates, args.mode),
            args.requests,
        )
        round_robin = HostRequest(candidates, "round_robin", threshold_slots=400)
        rr = _run(team, calendar, count_freebusy, reservations, round_robin, args.requests)

    print(
        f"{args.hosts} hosts, {HORIZON_DAYS} days, {args.busy} busy blocks each, "
        f"{args.requests} requests, calendar: {args.calendar}"
    )
    print(_summary(args.mode, pooled))
    print(_summary("round_robin (threshold 400)", rr))
    print(
        json.dumps(
            {
                "p50_ms": round(statistics.median(pooled.core_ms), 2),
                "p95_ms": round(_percentile(pooled.core_ms, 0.95), 2),
                "freebusy_calls": pooled.per_request(pooled.freebusy_calls),
                "slots": pooled.per_request(pooled.slots),
                "calendar_p50_ms": round(statistics.median(pooled.calendar_ms), 2),
                "round_robin_p50_ms": round(statistics.median(rr.core_ms), 2),
                "round_robin_p95_ms": round(_percentile(rr.core_ms, 0.95), 2),
                "round_robin_freebusy_calls": rr.per_request(rr.freebusy_calls),
                "calendar": args.calendar,
            }
        )
    )


if __name__ == "__main__":
    main()
