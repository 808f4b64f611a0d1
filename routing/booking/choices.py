"""Whether a scheduler's choice of host option and meeting type is allowed for a record."""

from __future__ import annotations

from routing.booking.config import BookingSettings, HostOption
from routing.booking.suggest import Suggestion

HOST_FIELD = "host"
TYPE_FIELD = "meeting_type"


def choice_problems(
    settings: BookingSettings,
    object_type: str,
    suggestion: Suggestion,
    host: HostOption,
    meeting_type: str,
) -> list[tuple[str, str]]:
    """``(field, message)`` for each part of the choice the object's settings or a locked
    suggestion forbid; empty when the booking may go ahead with it."""
    try:
        offered = settings.for_object(object_type)
    except KeyError:
        return [("object_type", f"{object_type} has no booking settings")]
    problems: list[tuple[str, str]] = []
    if suggestion.host_locked and host != suggestion.host:
        problems.append((HOST_FIELD, f"is locked to {suggestion.host.describe()} for this record"))
    elif host.kind not in offered.host_options:
        problems.append((HOST_FIELD, f"{host.kind} is not offered for {object_type}"))
    elif host.kind == "pool" and offered.pools and host.team not in offered.pools:
        problems.append((HOST_FIELD, f"pool {host.team!r} is not offered for {object_type}"))
    elif host.kind == "pool" and host.team not in {pool.team for pool in settings.pools}:
        problems.append((HOST_FIELD, f"team {host.team!r} is not a booking pool"))
    if suggestion.meeting_type_locked and meeting_type != suggestion.meeting_type:
        problems.append((TYPE_FIELD, f"is locked to {suggestion.meeting_type!r} for this record"))
    elif meeting_type not in {booking_type.name for booking_type in settings.types}:
        problems.append((TYPE_FIELD, f"unknown meeting type {meeting_type!r}"))
    elif offered.allowed_types and meeting_type not in offered.allowed_types:
        problems.append((TYPE_FIELD, f"{meeting_type!r} is not offered for {object_type}"))
    return problems
