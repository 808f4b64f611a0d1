"""Who can host when: one host, a pool in one of its modes, co-hosts, meet now, alternatives.

Modes: ``single`` (one host), ``manual`` (the scheduler picks any free pool member), ``pooled``
(the union of the members' free slots; at the chosen time the free member with the fewest
meetings hosts) and ``round_robin`` (the member with the fewest meetings is next; when the
members taken so far have fewer open slots in the horizon than the threshold, the next members
by meeting count are added until it is met). "Fewest meetings" is fewest for the member's weight
(meetings / weight, see ``routing.booking.fairness``): a weight 2 member hosts twice as often.
Co-hosts must be free for every slot offered, and are never the main host. Ties between equal
loads go to the earlier candidate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from routing.booking.absences import unavailable_intervals
from routing.booking.config import BookingType
from routing.booking.fairness import meeting_load
from routing.booking.slots import (
    MINUTE,
    HostSchedule,
    Interval,
    OpenTimes,
    Slot,
    instant,
    open_times,
    require_aware,
    seconds,
    start_bounds,
)
from routing.booking.window import booking_window_problems

__all__ = [  # the agreed interface names booking_window_problems and unavailable_intervals here
    "HostMode",
    "HostRequest",
    "available_slots",
    "booking_window_problems",
    "busy_range",
    "by_fewest_meetings",
    "choose_host",
    "free_times_by_host",
    "joint_slots",
    "meet_now",
    "nearest_alternatives",
    "offered_hosts",
    "pick_group_hosts",
    "round_robin_hosts",
    "unavailable_intervals",
]

HostMode = Literal["single", "manual", "pooled", "round_robin"]


@dataclass(frozen=True, slots=True)
class HostRequest:
    candidates: tuple[str, ...]
    mode: HostMode
    co_hosts: tuple[str, ...] = ()
    threshold_slots: int = 0
    weights: Mapping[str, int] = field(default_factory=dict)  # a pool member's weight; 1 when not named

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("a host request needs at least one candidate host")
        if self.mode == "single" and len(self.candidates) != 1:
            raise ValueError(f"mode single takes one candidate, got {len(self.candidates)}")
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError(f"a candidate host is listed twice: {list(self.candidates)}")
        if self.threshold_slots < 0:
            raise ValueError("threshold_slots must not be negative")
        light = {host: weight for host, weight in self.weights.items() if weight < 1}
        if light:
            raise ValueError(f"a candidate host's weight must be at least 1: {light}")

    @property
    def main_candidates(self) -> tuple[str, ...]:
        """Candidates that may be the main host: co-hosts never are."""
        return tuple(host for host in self.candidates if host not in self.co_hosts)


def by_fewest_meetings(
    host_ids: Sequence[str],
    candidates: Sequence[str],
    meeting_counts: Mapping[str, int],
    weights: Mapping[str, int] | None = None,
) -> list[str]:
    """``host_ids`` ordered by meeting count per weight (1 for a host not in ``weights``), ties by
    their position among ``candidates``."""
    position = {host: index for index, host in enumerate(candidates)}
    weight = weights or {}
    return sorted(
        host_ids,
        key=lambda host: (
            meeting_load(meeting_counts.get(host, 0), weight.get(host, 1)),
            position.get(host, len(position)),
        ),
    )


def _schedule(schedules: Mapping[str, HostSchedule], host_id: str) -> HostSchedule:
    try:
        return schedules[host_id]
    except KeyError:
        raise ValueError(f"no schedule given for host {host_id!r}") from None


def _open(
    booking_type: BookingType,
    schedules: Mapping[str, HostSchedule],
    hosts: Sequence[str],
    low: int,
    high: int,
) -> list[OpenTimes]:
    return [open_times(booking_type, _schedule(schedules, host), low, high) for host in hosts]


def _bookable_starts(
    times: OpenTimes, co_hosts: Sequence[OpenTimes], step_seconds: int
) -> list[int]:
    starts = times.grid_starts(step_seconds)
    for co_host in co_hosts:
        starts = [start for start in starts if co_host.allows(start)]
    return starts


def round_robin_hosts(
    booking_type: BookingType,
    request: HostRequest,
    schedules: Mapping[str, HostSchedule],
    meeting_counts: Mapping[str, int],
    now: datetime,
) -> list[str]:
    """The members offered by round robin, fewest meetings first.

    Members are added by meeting count until their open slots in the whole horizon (counted once
    per distinct start) reach the threshold; a member with no open slot at all is never enough,
    so a threshold of 0 behaves as 1.
    """
    ordered = by_fewest_meetings(request.main_candidates, request.candidates, meeting_counts, request.weights)
    horizon = Interval(now, now + timedelta(days=booking_type.horizon_days))
    low, high = start_bounds(booking_type, horizon, now)
    step = booking_type.slot_step_minutes * MINUTE
    co_hosts = _open(booking_type, schedules, request.co_hosts, low, high)
    threshold = max(request.threshold_slots, 1)
    chosen: list[str] = []
    open_starts: set[int] = set()
    for host in ordered:
        chosen.append(host)
        times = open_times(booking_type, _schedule(schedules, host), low, high)
        open_starts.update(_bookable_starts(times, co_hosts, step))
        if len(open_starts) >= threshold:
            break
    return chosen


def offered_hosts(
    booking_type: BookingType,
    request: HostRequest,
    schedules: Mapping[str, HostSchedule],
    meeting_counts: Mapping[str, int],
    now: datetime,
) -> list[str]:
    """The main hosts whose free times are offered, in the order a pick prefers them."""
    if request.mode == "round_robin":
        return round_robin_hosts(booking_type, request, schedules, meeting_counts, now)
    if request.mode == "manual" or request.mode == "single":
        return list(request.main_candidates)
    return by_fewest_meetings(request.main_candidates, request.candidates, meeting_counts, request.weights)


def available_slots(
    booking_type: BookingType,
    request: HostRequest,
    schedules: Mapping[str, HostSchedule],
    meeting_counts: Mapping[str, int],
    window: Interval,
    now: datetime,
) -> list[Slot]:
    """Open slots in ``window``, each with the offered main hosts free for it (every co-host is).

    For pooled and round robin the hosts of a slot come fewest meetings first, so the first is
    the one ``choose_host`` picks; for manual they keep the pool's order. ``schedules`` must
    cover the window plus buffers, and for round robin the whole horizon.
    """
    hosts = offered_hosts(booking_type, request, schedules, meeting_counts, now)
    low, high = start_bounds(booking_type, window, now)
    if low > high or not hosts:
        return []
    step = booking_type.slot_step_minutes * MINUTE
    co_hosts = _open(booking_type, schedules, request.co_hosts, low, high)
    free_at: defaultdict[int, list[str]] = defaultdict(list)
    for times in _open(booking_type, schedules, hosts, low, high):
        host = times.host_id
        for start in _bookable_starts(times, co_hosts, step):
            free_at[start].append(host)
    duration = booking_type.duration_minutes * MINUTE
    return [
        Slot(instant(start), instant(start + duration), tuple(free_at[start]))
        for start in sorted(free_at)
    ]


def busy_range(
    booking_type: BookingType, request: HostRequest, window: Interval, now: datetime
) -> Interval:
    """The time whose busy information ``available_slots`` reads for this request: the bookable
    part of ``window`` (the whole horizon too for round robin), widened by meeting and buffers.
    Ask the calendar for this range."""
    before = timedelta(minutes=booking_type.buffer_before_minutes)
    after = timedelta(minutes=booking_type.buffer_after_minutes)
    reach = timedelta(minutes=booking_type.duration_minutes) + after
    earliest = now + timedelta(minutes=booking_type.minimum_notice_minutes)
    horizon_end = now + timedelta(days=booking_type.horizon_days)
    start = max(window.start, earliest) - before
    end = min(window.end + after, horizon_end + reach)
    if request.mode == "round_robin":
        start, end = min(start, earliest - before), max(end, horizon_end + reach)
    return Interval(start, max(start, end))


def choose_host(
    request: HostRequest, free_host_ids: Sequence[str], meeting_counts: Mapping[str, int]
) -> str | None:
    """The free main candidate with the fewest meetings (ties: earlier candidate), or None."""
    free = set(free_host_ids)
    eligible = [host for host in request.main_candidates if host in free]
    if not eligible:
        return None
    return by_fewest_meetings(eligible, request.candidates, meeting_counts, request.weights)[0]


def meet_now(
    booking_type: BookingType,
    request: HostRequest,
    schedules: Mapping[str, HostSchedule],
    now: datetime,
    meeting_counts: Mapping[str, int] | None = None,
) -> list[str]:
    """Main candidates free (within working hours, buffers included) for a meeting starting now,
    when every co-host is too; fewest meetings first when counts are given. Notice and the slot
    step do not apply; the whole pool is asked, whatever its mode."""
    require_aware(now, "now")
    start = seconds(now)
    co_hosts = _open(booking_type, schedules, request.co_hosts, start, start)
    if not all(times.allows(start) for times in co_hosts):
        return []
    free = [
        times.host_id
        for times in _open(booking_type, schedules, request.main_candidates, start, start)
        if times.allows(start)
    ]
    if meeting_counts is None:
        return free
    return by_fewest_meetings(free, request.candidates, meeting_counts, request.weights)


def nearest_alternatives(slots: Sequence[Slot], wanted: datetime, limit: int = 3) -> list[Slot]:
    """The ``limit`` slots starting closest to ``wanted`` (ties: the earlier), in time order."""
    closest = sorted(slots, key=lambda slot: (abs(slot.start - wanted), slot.start))[:limit]
    return sorted(closest, key=lambda slot: slot.start)


def free_times_by_host(slots: Sequence[Slot]) -> dict[str, list[Slot]]:
    """ "Show all availability": each host's own free slots, from the combined list."""
    by_host: dict[str, list[Slot]] = {}
    for slot in slots:
        for host in slot.host_ids:
            by_host.setdefault(host, []).append(slot)
    return by_host


def joint_slots(main: Sequence[Slot], groups: Sequence[Sequence[Slot]]) -> list[Slot]:
    """The main slots at which every group (another pool) has a free member besides the main host:
    a booking that needs one host from each group can take them."""
    free = [{slot.start: frozenset(slot.host_ids) for slot in group} for group in groups]
    kept: list[Slot] = []
    for slot in main:
        only_host = frozenset(slot.host_ids) if len(slot.host_ids) == 1 else frozenset()
        if all(group.get(slot.start, frozenset()) - only_host for group in free):
            kept.append(slot)
    return kept


def pick_group_hosts(main_host: str, groups: Sequence[Sequence[str]]) -> list[str] | None:
    """One host from each group (each list free members, preferred first), never the main host nor a host
    picked for an earlier group; None when a group has nobody left."""
    taken = {main_host}
    picked: list[str] = []
    for members in groups:
        host = next((member for member in members if member not in taken), None)
        if host is None:
            return None
        taken.add(host)
        picked.append(host)
    return picked
