"""Each host's busy time for booking: the calendar's free/busy, Baton's reservations, absences."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from adapters.calendar import Calendar, CalendarLookupError
from baton.booking.directory import HostInfo
from kernel.ports.bookings import BookingRepository
from routing.booking.absences import unavailable_intervals
from routing.booking.slots import HostSchedule, Interval

log = structlog.get_logger(__name__)


def calendar_busy(calendar: Calendar | None, hosts: Mapping[str, HostInfo], span: Interval
                  ) -> dict[str, list[Interval]]:
    """Busy time by host id, in one free/busy call per 50 calendars. Without a calendar (the embedded
    default) nobody is busy; a calendar Google cannot read counts as busy throughout (never double-book)."""
    emails = {host.email: host_id for host_id, host in hosts.items() if host.email}
    if calendar is None or not emails:
        return {}
    try:
        by_email = calendar.busy(list(emails), span.start, span.end)
    except CalendarLookupError as exc:
        log.warning("calendar_unreadable", calendars=exc.errors)
        by_email = {**exc.busy, **{email: [span] for email in exc.errors}}
    return {emails[email]: intervals for email, intervals in by_email.items() if email in emails}


def host_schedules(
    hosts: Mapping[str, HostInfo],
    span: Interval,
    calendar: Calendar | None,
    bookings: BookingRepository,
    ignore_booking: str | None = None,
) -> dict[str, HostSchedule]:
    """Every host's schedule over ``span``: calendar busy time, reservations (but ``ignore_booking``'s),
    out of office, holidays."""
    busy = calendar_busy(calendar, hosts, span)
    held = bookings.held_times(hosts, span.start, span.end, ignore_booking)
    schedules: dict[str, HostSchedule] = {}
    for host_id, host in hosts.items():
        intervals = list(busy.get(host_id, []))
        intervals += [Interval(hold.start, hold.end) for hold in held.get(host_id, [])]
        if host.member is not None:
            intervals += unavailable_intervals(host.member, host.team, span)
        schedules[host_id] = HostSchedule(host_id, host.time_zone, tuple(intervals))
    return schedules
