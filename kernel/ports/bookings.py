"""The bookings port: bookings, the time they hold of their hosts, caps and calibration credits checked as they
are reserved, and the calendar sync tokens of the hosts' calendars; with the rows that cross it and the
exceptions it raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

COUNTED_STATUSES = ("reserved", "calendar_created", "event_created", "confirmed")  # live bookings


@dataclass(frozen=True, slots=True)
class Hold:
    """One host's time a booking holds: ``[start, end)``, buffers included."""

    host_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CapLimit:
    """At most ``limit`` counted meetings of ``host_id`` may start in ``[start, end)``."""

    host_id: str
    start: datetime
    end: datetime
    limit: int
    reason: str


@dataclass(frozen=True, slots=True)
class PoolCredits:
    """Calibration credits to store with a booking: ``credits`` by host, for a pool's period."""

    pool: str
    period: str
    credits: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class NewBooking:
    """A booking to reserve, as first stored (created and last updated at ``created_at``)."""

    id: str
    status: str
    booking_type: str
    object_type: str
    record_id: str
    scheduler_user_id: str
    host_id: str
    pool: str | None
    co_host_ids: list[str]
    starts_at: datetime
    ends_at: datetime
    guest_email: str
    invitees: list[str]
    platform: str
    request: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BookingRow(NewBooking):
    """A stored booking: as reserved, with what its chain recorded since."""

    calendar_event_id: str | None
    meet_link: str | None
    salesforce_event_id: str | None
    error: str | None
    updated_at: datetime
    calendar_host_id: str | None = None
    version: int = 1  # counts its status transitions: a write names the version it read (compare-and-set)

    @property
    def event_host_id(self) -> str:
        """The host whose calendar holds the meeting's event."""
        return self.calendar_host_id or self.host_id


class SlotTaken(Exception):
    """Another booking already holds time of these hosts."""

    def __init__(self, host_ids: Sequence[str]):
        self.host_ids = tuple(host_ids)
        super().__init__(f"already reserved: {', '.join(self.host_ids)}")


class CapReached(Exception):
    """The host already has as many meetings in a capped day or week as the cap allows."""

    def __init__(self, host_id: str, reason: str):
        self.host_id = host_id
        self.reason = reason
        super().__init__(f"{host_id}: {reason}")


class BookingExists(Exception):
    """A booking with this id was stored before (a repeated request)."""

    def __init__(self, booking_id: str):
        self.booking_id = booking_id
        super().__init__(f"booking {booking_id} exists")


class BookingRepository(Protocol):
    """Bookings and their reserved time. Each write is one transaction; ``now`` is the booking's new
    ``updated_at``."""

    def reserve(self, booking: NewBooking, holds: Sequence[Hold], caps: Sequence[CapLimit] = (),
                credits: Sequence[PoolCredits] = (), group_hosts: Mapping[str, str] | None = None) -> None:
        """Stores the booking, its holds, its ``group_hosts`` (pool -> the host taken from that extra pool) and
        ``credits``; raises SlotTaken, CapReached (nothing stored) or BookingExists."""
        ...

    def move(self, booking_id: str, host_id: str, start: datetime, end: datetime, holds: Sequence[Hold],
             now: datetime, caps: Sequence[CapLimit] = ()) -> None:
        """The booking's old holds go and these are taken (SlotTaken / CapReached change nothing)."""
        ...

    def replace_co_host(self, booking_id: str, leaving: str, joining: Hold | None, now: datetime, *,
                        pool: str | None = None, caps: Sequence[CapLimit] = ()) -> None:
        """``leaving`` leaves the co-hosts with their hold; ``joining`` takes their place, holds its time and
        hosts for ``pool`` (SlotTaken / CapReached change nothing)."""
        ...

    def transition(self, booking: BookingRow, to: str, now: datetime) -> bool:
        """Moves the booking from the status and version it was read with to ``to`` (a transition of
        ``routing.lifecycles.booking.BOOKING``); False, writing nothing, when it changed since (a lost race)."""
        ...

    def record_calendar_event(self, booking: BookingRow, to: str, now: datetime, *, event_id: str,
                              meet_link: str | None, host_id: str) -> bool:
        """The booking's calendar event was made on ``host_id``'s calendar: recorded with the transition to
        ``to``; False (nothing written) when the booking changed since it was read."""
        ...

    def record_salesforce_event(self, booking: BookingRow, to: str, event_id: str, now: datetime) -> bool:
        """The booking's Salesforce Event was upserted: recorded with the transition to ``to``; False (nothing
        written) when the booking changed since it was read."""
        ...

    def release(self, booking: BookingRow, to: str, now: datetime, error: str | None) -> bool:
        """The booking ends (``to``: cancelled or failed) and its reserved time is freed, in one transaction;
        False (nothing changed) when it changed since it was read."""
        ...

    def resume(self, booking: BookingRow, now: datetime) -> bool:
        """Claims the restart of its stopped chain: ``updated_at`` becomes ``now`` while the booking still has
        the status and version it was read with (False: it changed, or another round claimed it)."""
        ...

    def stopped(self, before: datetime, limit: int = 100) -> list[BookingRow]:
        """Bookings with a step of their chain still to run, unchanged after ``before``, oldest first."""
        ...

    def record_calendar_holder(self, booking_id: str, host_id: str, now: datetime) -> None:
        """The booking's calendar event moved to ``host_id``'s calendar (its video link kept)."""
        ...

    def record_recreated_calendar_event(self, booking_id: str, host_id: str, meet_link: str | None,
                                        now: datetime) -> None:
        """The booking's calendar event was made again on ``host_id``'s calendar, with this video link."""
        ...

    def get(self, booking_id: str) -> BookingRow | None: ...

    def by_calendar_event(self, event_ids: Iterable[str]) -> dict[str, BookingRow]: ...

    def by_salesforce_event(self, event_id: str) -> BookingRow | None:
        """The booking whose Salesforce Event has this Id (15 or 18 characters)."""
        ...

    def ended_since(self, since: datetime, limit: int, *, pools: Sequence[str] = (), objects: Sequence[str] = (),
                    statuses: Sequence[str] = (), hosts: Sequence[str] = ()) -> list[BookingRow]:
        """The newest ``limit`` bookings that ended at or after ``since``, oldest first."""
        ...

    def group_hosts_of(self, booking_id: str) -> dict[str, str]:
        """The host the booking took from each of its extra pools, by pool."""
        ...

    def live_event_hosts(self, since: datetime) -> list[str]:
        """Hosts whose calendars hold events of bookings still live and ending after ``since``."""
        ...

    def held_times(self, host_ids: Iterable[str], start: datetime, end: datetime,
                   ignore_booking: str | None = None) -> dict[str, list[Hold]]:
        """Reserved time of these hosts overlapping ``[start, end)`` (but ``ignore_booking``'s)."""
        ...

    def meeting_starts(self, host_ids: Iterable[str], start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """Start times in ``[start, end)`` of the meetings the hosts host that caps count."""
        ...

    def meeting_counts(self, host_ids: Iterable[str], since: datetime, until: datetime | None = None, *,
                       by: str = "booked", statuses: Sequence[str] = COUNTED_STATUSES) -> dict[str, int]:
        """Bookings each host hosted in ``[since, until)``, by when booked (``booked``) or held
        (``meeting_time``), in ``statuses``."""
        ...

    def pool_credits(self, pool: str, period: str) -> dict[str, int]:
        """Calibration credits of a pool's members in one period."""
        ...

    def calendar_sync_token(self, calendar: str) -> str | None: ...

    def save_calendar_sync_token(self, calendar: str, token: str | None, now: datetime) -> None:
        """Stores the token for the next poll (None forgets it)."""
        ...
