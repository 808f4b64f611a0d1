"""From what a scheduler asks (record, meeting type, host option, co-hosts) to a checked plan and its slots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from adapters.calendar import Calendar
from baton.booking.directory import HostInfo, UnknownHost, host_infos
from baton.booking.records import account_owner, booking_suggestion, record_owner
from baton.booking.schedules import host_schedules
from kernel.ports.bookings import COUNTED_STATUSES, BookingRepository, CapLimit, PoolCredits
from kernel.ports.decisions import DecisionRepository
from kernel.ports.reference_sync import SyncedReads
from routing.booking.absences import unavailable_intervals
from routing.booking.choices import choice_problems
from routing.booking.config import BookingType, HostOption, ObjectBooking, PoolSettings
from routing.booking.fairness import (
    CapWindow,
    calibrate,
    cap_spans,
    capped_windows,
    counted_statuses,
    lead_hidden,
    period_of,
)
from routing.booking.hosts import resolve_host_request
from routing.booking.permissions import scheduler_refusal
from routing.booking.pools import HostRequest, available_slots, busy_range, joint_slots
from routing.booking.slots import HostSchedule, Interval, Slot
from routing.booking.suggest import Suggestion
from routing.config import OrgConfig

Problems = list[tuple[str, str]]


class BookingProblems(Exception):
    """The request cannot be booked as asked; ``problems`` names each field (a 422)."""

    def __init__(self, problems: Problems):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


class BookingForbidden(Exception):
    """The org config's ``booking.schedulers`` do not let this scheduler book these hosts or this record
    (a 403); the message names why."""


@dataclass(frozen=True)
class PoolGroup:
    """Another pool the booking needs one host from, under its own fairness settings: the members offered,
    their meetings this period (plus credits when calibrating), the credits to store with the booking and the
    members not offered, with why."""

    pool: PoolSettings
    hosts: HostRequest
    meeting_counts: dict[str, int]
    credits: PoolCredits | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def team(self) -> str:
        return self.pool.team


@dataclass(frozen=True)
class BookingPlan:
    config_version: int
    object_settings: ObjectBooking
    suggestion: Suggestion
    option: HostOption
    booking_type: BookingType
    pool: PoolSettings | None
    hosts: HostRequest
    directory: dict[str, HostInfo]
    meeting_counts: dict[str, int]
    credits: PoolCredits | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # pool members not shown, with why
    groups: tuple[PoolGroup, ...] = ()

    @property
    def buffers(self) -> tuple[timedelta, timedelta]:
        return (timedelta(minutes=self.booking_type.buffer_before_minutes),
                timedelta(minutes=self.booking_type.buffer_after_minutes))

    @property
    def meeting_length(self) -> timedelta:
        return timedelta(minutes=self.booking_type.duration_minutes)

    def time_zone(self, host_id: str) -> str:
        return self.directory[host_id].time_zone

    @property
    def all_credits(self) -> list[PoolCredits]:
        """The calibration credits of the main pool and of every extra pool, to store with the booking."""
        found = [self.credits, *(group.credits for group in self.groups)]
        return [credits for credits in found if credits is not None]

    def group_hosts(self, picked: Sequence[str]) -> dict[str, str]:
        """The host picked from each extra pool, by pool."""
        return {group.team: host for group, host in zip(self.groups, picked, strict=True)}


def _choice(config: OrgConfig, decisions: DecisionRepository, object_type: str, record_id: str,
            fields: Mapping[str, Any], host: HostOption | None, meeting_type: str | None,
            now: datetime) -> tuple[Suggestion, HostOption, str]:
    settings = config.booking
    if object_type not in settings.objects:
        raise BookingProblems([("object_type", f"{object_type} has no booking settings")])
    suggestion = booking_suggestion(config, decisions, object_type, record_id, fields, now)
    option = host or suggestion.host
    type_name = meeting_type or suggestion.meeting_type
    problems = choice_problems(settings, object_type, suggestion, option, type_name)
    if problems:
        raise BookingProblems(problems)
    return suggestion, option, type_name


def plan_booking(
    config_version: int,
    config: OrgConfig,
    decisions: DecisionRepository,
    reference_sync: SyncedReads,
    bookings: BookingRepository,
    *,
    object_type: str,
    record_id: str,
    record_fields: Mapping[str, Any],
    host: HostOption | None,
    meeting_type: str | None,
    co_hosts: Sequence[str],
    now: datetime,
    extra_pools: Sequence[str] = (),
) -> BookingPlan:
    """Checks the choice against the object's settings and resolves the candidate hosts; BookingProblems
    names what is wrong."""
    settings = config.booking
    suggestion, option, type_name = _choice(config, decisions, object_type, record_id, record_fields, host,
                                            meeting_type, now)
    booking_type = settings.booking_type(type_name)
    try:
        request = resolve_host_request(
            option, settings, config.teams,
            record_owner_id=record_owner(decisions, reference_sync, object_type, record_id, record_fields)
            if option.kind == "record_owner" else None,
            account_owner_id=account_owner(decisions, reference_sync, object_type, record_id, record_fields)
            if option.kind == "account_owner" else None,
            co_hosts=co_hosts,
        )
    except ValueError as exc:
        raise BookingProblems([("host", str(exc))]) from None
    pool = settings.pool(option.team) if option.kind == "pool" and option.team else None
    extra = _extra_pools(config, extra_pools, request)
    try:
        directory = host_infos(config, reference_sync, request.candidates + request.co_hosts, option.team)
        for group_pool, group_request in extra:
            directory.update({host: info for host, info in
                              host_infos(config, reference_sync, group_request.candidates, group_pool.team).items()
                              if host not in directory})
    except UnknownHost as exc:
        field = "co_hosts" if exc.host_id in request.co_hosts else "host"
        raise BookingProblems([(field, str(exc))]) from None
    counts: dict[str, int] = {}
    credits: PoolCredits | None = None
    skipped: dict[str, str] = {}
    if pool is not None:
        counts, credits, skipped = _pool_fairness(pool, config, decisions, bookings, request, directory, now)
        request = _offered(request, skipped)
    groups = tuple(_group(group_pool, group_request, config, decisions, bookings, directory, now)
                   for group_pool, group_request in extra)
    return BookingPlan(config_version, settings.for_object(object_type), suggestion, option, booking_type, pool,
                       request, directory, counts, credits, skipped, groups)


def _extra_pools(config: OrgConfig, extra_pools: Sequence[str], main: HostRequest
                 ) -> list[tuple[PoolSettings, HostRequest]]:
    """The extra pools a booking needs one host from each of, with their members; BookingProblems names an
    unknown one."""
    problems: Problems = []
    found: list[tuple[PoolSettings, HostRequest]] = []
    for index, team_name in enumerate(extra_pools):
        try:
            pool = config.booking.pool(team_name)
            request = resolve_host_request(HostOption(kind="pool", team=team_name), config.booking, config.teams,
                                           co_hosts=main.co_hosts)
        except (KeyError, ValueError):
            problems.append((f"extra_pools.{index}", f"{team_name!r} is not a booking pool"))
            continue
        found.append((pool, replace(request, mode="pooled", threshold_slots=0)))
    if problems:
        raise BookingProblems(problems)
    return found


def _group(pool: PoolSettings, request: HostRequest, config: OrgConfig, decisions: DecisionRepository,
           bookings: BookingRepository, directory: Mapping[str, HostInfo], now: datetime) -> PoolGroup:
    """An extra pool under its own fairness settings (period, calibration, lead threshold; caps apply to the
    schedules and the reservation)."""
    counts, credits, skipped = _pool_fairness(pool, config, decisions, bookings, request, directory, now)
    return PoolGroup(pool, _offered(request, skipped), counts, credits, skipped)


def _offered(request: HostRequest, skipped: Mapping[str, str]) -> HostRequest:
    return replace(request, candidates=tuple(host for host in request.candidates if host not in skipped))


def group_slots(plan: BookingPlan, schedules: Mapping[str, HostSchedule], window: Interval,
                now: datetime) -> list[list[Slot]]:
    """Each extra pool's open slots in ``window``, its members fewest meetings first."""
    return [available_slots(plan.booking_type, group.hosts, schedules, group.meeting_counts, window, now)
            for group in plan.groups]


def away_now(directory: Mapping[str, HostInfo], unavailable: set[str], now: datetime) -> set[str]:
    """Hosts who cannot host at ``now``: toggled unavailable, inactive, out of office, on holiday."""
    moment = Interval(now, now + timedelta(seconds=1))
    return {host_id for host_id, info in directory.items()
            if host_id in unavailable or (info.member is not None and unavailable_intervals(info.member, info.team, moment))}


def _pool_fairness(pool: PoolSettings, config: OrgConfig, decisions: DecisionRepository, bookings: BookingRepository,
                   request: HostRequest, directory: Mapping[str, HostInfo], now: datetime
                   ) -> tuple[dict[str, int], PoolCredits | None, dict[str, str]]:
    """Meeting counts this period (plus calibration credits), and the members the lead threshold hides."""
    team = config.team(pool.team)
    period, span = period_of(pool, now, team.timezone)
    counts = bookings.meeting_counts(request.candidates, span.start, span.end, by=pool.count_by,
                                     statuses=counted_statuses(pool, COUNTED_STATUSES))
    needs_presence = pool.balance == "calibration" or pool.lead_threshold is not None
    with decisions.transaction() as tx:
        toggled = tx.unavailable_members() if needs_presence else set()
    away = away_now({host: directory[host] for host in request.candidates}, toggled, now) if needs_presence else set()
    credits = None
    if pool.balance == "calibration":
        calibration = calibrate(request.candidates, counts, bookings.pool_credits(pool.team, period), away,
                                request.weights)
        counts = calibration.standings
        credits = PoolCredits(pool.team, period, calibration.credits)
    hidden = lead_hidden(request.main_candidates, counts, pool.lead_threshold, away, request.weights)
    if len(hidden) == len(request.main_candidates):
        hidden = {}  # everyone present is away: nobody is ahead of anyone who could host
    return counts, credits, hidden


def _capped_pools(plan: BookingPlan) -> list[tuple[PoolSettings, tuple[str, ...]]]:
    """Each pool of the plan (the main one, the extra ones) that has caps, with its members offered."""
    pools = [(plan.pool, plan.hosts.main_candidates)] if plan.pool is not None else []
    pools += [(group.pool, group.hosts.main_candidates) for group in plan.groups]
    return [(pool, hosts) for pool, hosts in pools if pool.caps.per_day is not None or pool.caps.per_week is not None]


def cap_windows(plan: BookingPlan, span: Interval, bookings: BookingRepository) -> dict[str, list[CapWindow]]:
    """Each pool member's capped days and weeks (their own clock, their pool's caps) around ``span``."""
    capped = _capped_pools(plan)
    if not capped:
        return {}
    hosts = {host for _, members in capped for host in members}
    starts = bookings.meeting_starts(hosts, span.start - timedelta(days=7), span.end + timedelta(days=7))
    found: dict[str, list[CapWindow]] = {}
    for pool, members in capped:
        for host in members:
            windows = found.setdefault(host, [])
            windows += [item for item in capped_windows(host, plan.time_zone(host), pool.caps, starts[host])
                        if item not in windows]
    return {host: windows for host, windows in found.items() if windows}


def _pool_cap_limits(pool: PoolSettings, host_id: str, start: datetime, time_zone: str) -> list[CapLimit]:
    return [CapLimit(host_id, span.start, span.end, limit, f"{window} cap {limit} reached")
            for window, span, limit in cap_spans(pool.caps, start, time_zone)]


def cap_limits(plan: BookingPlan, host_id: str, start: datetime, group_hosts: Sequence[str] = ()) -> list[CapLimit]:
    """What the store checks again when it reserves ``host_id`` at ``start`` with ``group_hosts`` (the host
    picked from each extra pool, in order): each host under their own pool's caps."""
    limits: list[CapLimit] = []
    if plan.pool is not None and host_id in plan.hosts.main_candidates:
        limits += _pool_cap_limits(plan.pool, host_id, start, plan.time_zone(host_id))
    return limits + group_cap_limits(plan, [group.pool for group in plan.groups], plan.group_hosts(group_hosts),
                                     start)


def group_cap_limits(plan: BookingPlan, pools: Sequence[PoolSettings], group_hosts: Mapping[str, str],
                     start: datetime) -> list[CapLimit]:
    """The caps of hosts taken from extra pools (``group_hosts``: pool -> host) for a meeting at ``start``,
    each under their own pool's caps (a pool not in ``pools`` has none here)."""
    by_team = {pool.team: pool for pool in pools}
    return [limit for team, host in group_hosts.items() if team in by_team
            for limit in _pool_cap_limits(by_team[team], host, start, plan.time_zone(host))]


def skipped_hosts(plan: BookingPlan, window: Interval, now: datetime, bookings: BookingRepository) -> dict[str, list[str]]:
    """Why pool members (of the main pool and the extra ones) are not shown, or not at some times: the lead
    threshold, caps reached."""
    found: dict[str, list[str]] = {host: [reason] for host, reason in plan.skipped.items()}
    for group in plan.groups:
        for host, reason in group.skipped.items():
            found.setdefault(host, []).append(reason)
    span = busy_range(plan.booking_type, plan.hosts, window, now)
    for host, windows in cap_windows(plan, span, bookings).items():
        found.setdefault(host, []).extend(item.describe() for item in windows)
    return found


def schedules_over(plan: BookingPlan, span: Interval, calendar: Calendar | None,
                   bookings: BookingRepository, ignore_booking: str | None = None) -> dict[str, HostSchedule]:
    """Every host's schedule over ``span``, a capped day or week of a pool member (main or extra pool) counting
    as busy (``ignore_booking``: a booking being moved, whose own reserved time is not busy)."""
    schedules = host_schedules(plan.directory, span, calendar, bookings, ignore_booking)
    for host, windows in cap_windows(plan, span, bookings).items():
        current = schedules[host]
        schedules[host] = replace(current, busy=current.busy + tuple(item.span for item in windows))
    return schedules


def check_scheduler(config: OrgConfig, plan: BookingPlan, scheduler_user_id: str, object_type: str) -> None:
    """Raises BookingForbidden when no ``booking.schedulers`` grant lets this scheduler book the plan's
    candidate hosts and co-hosts on this object."""
    pool_members = {pool.team: [member.id for member in config.team(pool.team).members]
                    for pool in config.booking.pools}
    reason = scheduler_refusal(config.booking.schedulers, pool_members, scheduler_user_id=scheduler_user_id,
                               object_type=object_type, host_ids=plan.hosts.main_candidates,
                               co_host_ids=plan.hosts.co_hosts)
    if reason is not None:
        raise BookingForbidden(reason)


def schedules_for(plan: BookingPlan, window: Interval, now: datetime, calendar: Calendar | None,
                  bookings: BookingRepository, ignore_booking: str | None = None) -> dict[str, HostSchedule]:
    span = busy_range(plan.booking_type, plan.hosts, window, now)
    return schedules_over(plan, span, calendar, bookings, ignore_booking)


def plan_slots(plan: BookingPlan, window: Interval, now: datetime, calendar: Calendar | None,
               bookings: BookingRepository, ignore_booking: str | None = None) -> list[Slot]:
    """Open slots in ``window`` with the hosts free at each (calendar, reservations and absences merged)."""
    schedules = schedules_for(plan, window, now, calendar, bookings, ignore_booking)
    slots = available_slots(plan.booking_type, plan.hosts, schedules, plan.meeting_counts, window, now)
    return joint_slots(slots, group_slots(plan, schedules, window, now)) if plan.groups else slots
