"""What a host's own change to a booking's calendar event means for the booking (pure).

Read back with ``events.list`` sync tokens: the event deleted, the main host declining, a co-host declining
(they leave the booking, perhaps replaced from their pool), or the event at another time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Reaction(StrEnum):
    NONE = "none"
    DELETED = "deleted"
    DECLINED = "declined"
    CO_HOST_DECLINED = "co_host_declined"
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class EventChange:
    """The booking's side (its time, who hosts) and the event as the calendar now has it."""

    booking_start: datetime
    booking_end: datetime
    host_email: str | None
    co_host_emails: tuple[str, ...]
    status: str
    start: datetime | None
    end: datetime | None
    responses: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    reaction: Reaction
    detail: str = ""
    start: datetime | None = None  # moved: the event's new time (also with a co-host's decline)
    end: datetime | None = None
    co_hosts: tuple[str, ...] = ()  # the co-hosts (emails) who declined


def react(change: EventChange) -> Verdict:
    """Deleted beats declined beats a co-host's decline (which carries a move along) beats moved; a change that
    leaves the meeting as booked is ``none``."""
    if change.status == "cancelled":
        return Verdict(Reaction.DELETED, "the host deleted the calendar event")
    if change.host_email and change.responses.get(change.host_email) == "declined":
        return Verdict(Reaction.DECLINED, f"the host ({change.host_email}) declined the meeting")
    moved = change.start is not None and change.end is not None and (
        change.start != change.booking_start or change.end != change.booking_end)
    declined = tuple(email for email in change.co_host_emails if change.responses.get(email) == "declined")
    if declined:
        return Verdict(Reaction.CO_HOST_DECLINED, f"co-host {', '.join(declined)} declined the meeting",
                       change.start if moved else None, change.end if moved else None, declined)
    if moved:
        assert change.start is not None
        return Verdict(Reaction.MOVED, f"the host moved the meeting to {change.start.isoformat()}",
                       change.start, change.end)
    return Verdict(Reaction.NONE)
