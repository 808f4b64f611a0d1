"""From what a scheduler asks (record, meeting type, host option, co-hosts) to a checked plan and its slots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.calendar import Calendar
from adapters.store import Store
from adapters.store.bookings import BookingStore
from baton.booking.directory import HostInfo, UnknownHost, host_infos
from baton.booking.records import account_owner, booking_suggestion, record_owner
from baton.booking.schedules import host_schedules
from routing.booking.choices import choice_problems
from routing.booking.config import BookingType, HostOption, ObjectBooking, PoolSettings
from routing.booking.counting import count_window_start
from routing.booking.hosts import resolve_host_request
from routing.booking.permissions import scheduler_refusal
from routing.booking.pools import HostRequest, available_slots, busy_range
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

    @property
    def buffers(self) -> tuple[timedelta, timedelta]:
        return (timedelta(minutes=self.booking_type.buffer_before_minutes),
                timedelta(minutes=self.booking_type.buffer_after_minutes))

    @property
    def meeting_length(self) -> timedelta:
        return timedelta(minutes=self.booking_type.duration_minutes)

    def time_zone(self, host_id: str) -> str:
        return self.directory[host_id].time_zone


def _choice(config: OrgConfig, store: Store, object_type: str, record_id: str, fields: Mapping[str, Any],
            host: HostOption | None, meeting_type: str | None, now: datetime) -> tuple[Suggestion, HostOption, str]:
    settings = config.booking
    if object_type not in settings.objects:
        raise BookingProblems([("object_type", f"{object_type} has no booking settings")])
    suggestion = booking_suggestion(config, store, object_type, record_id, fields, now)
    option = host or suggestion.host
    type_name = meeting_type or suggestion.meeting_type
    problems = choice_problems(settings, object_type, suggestion, option, type_name)
    if problems:
        raise BookingProblems(problems)
    return suggestion, option, type_name


def plan_booking(
    config_version: int,
    config: OrgConfig,
    store: Store,
    bookings: BookingStore,
    *,
    object_type: str,
    record_id: str,
    record_fields: Mapping[str, Any],
    host: HostOption | None,
    meeting_type: str | None,
    co_hosts: Sequence[str],
    now: datetime,
) -> BookingPlan:
    """Checks the choice against the object's settings and resolves the candidate hosts; BookingProblems
    names what is wrong."""
    settings = config.booking
    suggestion, option, type_name = _choice(config, store, object_type, record_id, record_fields, host,
                                            meeting_type, now)
    booking_type = settings.booking_type(type_name)
    try:
        request = resolve_host_request(
            option, settings, config.teams,
            record_owner_id=record_owner(store, object_type, record_id, record_fields)
            if option.kind == "record_owner" else None,
            account_owner_id=account_owner(store, object_type, record_id, record_fields)
            if option.kind == "account_owner" else None,
            co_hosts=co_hosts,
        )
    except ValueError as exc:
        raise BookingProblems([("host", str(exc))]) from None
    pool = settings.pool(option.team) if option.kind == "pool" and option.team else None
    try:
        directory = host_infos(config, store, request.candidates + request.co_hosts, option.team)
    except UnknownHost as exc:
        field = "co_hosts" if exc.host_id in request.co_hosts else "host"
        raise BookingProblems([(field, str(exc))]) from None
    counts: dict[str, int] = {}
    if pool is not None:
        team = config.team(pool.team)
        counts = bookings.meeting_counts(request.candidates, count_window_start(pool.reset, now, team.timezone))
    return BookingPlan(config_version, settings.for_object(object_type), suggestion, option, booking_type, pool,
                       request, directory, counts)


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
                  bookings: BookingStore) -> dict[str, HostSchedule]:
    span = busy_range(plan.booking_type, plan.hosts, window, now)
    return host_schedules(plan.directory, span, calendar, bookings)


def plan_slots(plan: BookingPlan, window: Interval, now: datetime, calendar: Calendar | None,
               bookings: BookingStore) -> list[Slot]:
    """Open slots in ``window`` with the hosts free at each (calendar, reservations and absences merged)."""
    schedules = schedules_for(plan, window, now, calendar, bookings)
    return available_slots(plan.booking_type, plan.hosts, schedules, plan.meeting_counts, window, now)
