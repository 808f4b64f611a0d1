"""Why a requested meeting start is outside the booking window, field by field, for a 422."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.booking.config import BookingType
from routing.booking.slots import MINUTE, seconds, working_day_bounds, zone
from routing.teams import WEEKDAYS

START_FIELD = "start"


def _problem(message: str) -> tuple[str, str]:
    return (START_FIELD, message)


def booking_window_problems(
    booking_type: BookingType, start: datetime, now: datetime, host_time_zone: str
) -> list[tuple[str, str]]:
    """``(field, message)`` for each rule ``start`` breaks: notice, horizon, working day and
    hours (on the host's wall clock), slot step. Empty when the time may be booked."""
    if start.tzinfo is None or start.utcoffset() is None:
        return [_problem(f"{start.isoformat()} has no time zone (add an offset such as Z)")]
    problems: list[tuple[str, str]] = []
    notice = timedelta(minutes=booking_type.minimum_notice_minutes)
    if start < now + notice:
        problems.append(
            _problem(
                f"{start.isoformat()} is less than {booking_type.minimum_notice_minutes} "
                "minutes from now (minimum notice)"
                if start >= now
                else f"{start.isoformat()} is in the past"
            )
        )
    if start >= now + timedelta(days=booking_type.horizon_days):
        problems.append(
            _problem(
                f"{start.isoformat()} is {booking_type.horizon_days} days or more ahead "
                "(booking horizon)"
            )
        )
    problems.extend(_working_time_problems(booking_type, start, host_time_zone))
    return problems


def _working_time_problems(
    booking_type: BookingType, start: datetime, host_time_zone: str
) -> list[tuple[str, str]]:
    local = start.astimezone(zone(host_time_zone))
    day = local.date()
    weekday = WEEKDAYS[day.weekday()]
    if weekday not in booking_type.working_days:
        return [
            _problem(f"{local.isoformat()} is a {weekday} in {host_time_zone}, not a working day")
        ]
    day_start, day_end = working_day_bounds(booking_type, host_time_zone, day)
    begin = seconds(start)
    hours = booking_type.working_hours
    span = f"{hours.start:%H:%M}-{hours.end:%H:%M} {host_time_zone}"
    if begin < day_start or begin + booking_type.duration_minutes * MINUTE > day_end:
        return [_problem(f"the meeting at {local.isoformat()} is not within working hours {span}")]
    step = booking_type.slot_step_minutes * MINUTE
    if (begin - day_start) % step or start.microsecond:
        return [
            _problem(
                f"{local.isoformat()} is not on the {booking_type.slot_step_minutes}-minute "
                f"slot step counted from {hours.start:%H:%M} {host_time_zone}"
            )
        ]
    return []
