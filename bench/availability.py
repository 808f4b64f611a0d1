"""Availability speed: a pool of 50 hosts over 14 days with 20 busy blocks each.

Each request asks the calendar for the pool's free/busy over ``busy_range`` (through the
Calendar port's in-memory ``RecordingCalendar``, which counts freebusy calls as the Google
client sends them: one per 50 calendars), adds Baton's own reservations, out of office and
holidays, and finds the slots of a pooled request over the 14-day horizon. Timed: everything but the calendar answer.
The hosts work in three time zones; ``now`` moves by 7 minutes per request.

    python bench/availability.py [--hosts 50] [--busy 20] [--requests 300] [--mode pooled]

The last line is one JSON object: p50/p95 ms per request, freebusy calls per request, and the
same figures for a round-robin request with a threshold (which reads the whole horizon).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.calendar import RecordingCalendar
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
                "out_of_office": [{"start": away.isoformat(), "end": (away + timedelta(hours=20)).isoformat()}],
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
    team: Team, calendar_busy: dict[str, list[Interval]], reservations: dict[str, list[Interval]], window: Interval
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


def _run(
    team: Team,
    calendar: RecordingCalendar,
    reservations: dict[str, list[Interval]],
    request: HostRequest,
    requests: int,
) -> tuple[list[float], float | int, int]:
    booking_type = BookingType(
        name="Discovery", duration_minutes=30, buffer_after_minutes=10, minimum_notice_minutes=30,
        horizon_days=HORIZON_DAYS, slot_step_minutes=15,
    )
    emails = [member.email or "" for member in team.members]
    counts = {member.id: index % 7 for index, member in enumerate(team.members)}
    timings_ms: list[float] = []
    calls_before = calendar.calls["freebusy"]
    slots = 0
    for number in range(requests):
        now = START + number * REQUEST_STEP
        window = Interval(now, now + timedelta(days=HORIZON_DAYS, hours=1))
        asked = busy_range(booking_type, request, window, now)
        calendar_busy = calendar.busy(emails, asked.start, asked.end)
        began = time.perf_counter()
        schedules = _schedules(team, calendar_busy, reservations, asked)
        found = available_slots(booking_type, request, schedules, counts, window, now)
        timings_ms.append((time.perf_counter() - began) * 1000)
        slots += len(found)
    calls = (calendar.calls["freebusy"] - calls_before) / requests
    return timings_ms, int(calls) if calls.is_integer() else calls, slots // requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--busy", type=int, default=20, help="calendar busy blocks per host")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--mode", choices=("pooled", "manual"), default="pooled")
    args = parser.parse_args()

    rng = random.Random(SEED)
    team = _team(rng, args.hosts)
    calendar = RecordingCalendar({m.email or "": _busy_blocks(rng, args.busy) for m in team.members})
    reservations = _reservations(rng, team.members)
    candidates = tuple(member.id for member in team.members)

    timings, calls, slots = _run(team, calendar, reservations, HostRequest(candidates, args.mode), args.requests)
    round_robin = HostRequest(candidates, "round_robin", threshold_slots=400)
    rr_timings, rr_calls, rr_slots = _run(team, calendar, reservations, round_robin, args.requests)

    print(f"{args.hosts} hosts, {HORIZON_DAYS} days, {args.busy} busy blocks each, {args.requests} requests")
    print(f"{args.mode}: p50 {statistics.median(timings):.2f} ms, p95 {_percentile(timings, 0.95):.2f} ms, "
          f"{slots} slots per answer, {calls:g} freebusy calls per request")
    print(f"round_robin (threshold 400): p50 {statistics.median(rr_timings):.2f} ms, "
          f"p95 {_percentile(rr_timings, 0.95):.2f} ms, {rr_slots} slots per answer")
    print(
        json.dumps(
            {
                "p50_ms": round(statistics.median(timings), 2),
                "p95_ms": round(_percentile(timings, 0.95), 2),
                "freebusy_calls": calls,
                "slots": slots,
                "round_robin_p50_ms": round(statistics.median(rr_timings), 2),
                "round_robin_p95_ms": round(_percentile(rr_timings, 0.95), 2),
                "round_robin_freebusy_calls": rr_calls,
                "calendar": "RecordingCalendar (in memory)",
            }
        )
    )


if __name__ == "__main__":
    main()
