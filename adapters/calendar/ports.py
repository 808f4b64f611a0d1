"""The calendar port, its value types, deterministic event ids and an in-memory recording fake."""

from __future__ import annotations

import base64
import hashlib
import math
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from kernel.errors import ConfigError, PermanentError, TransientError
from routing.booking.slots import Interval

FREEBUSY_CALENDARS_PER_CALL = 50
EVENT_ID_NAMESPACE = "baton-booking:"


@dataclass(frozen=True)
class CalendarEvent:
    """A meeting to put on the organizer's calendar; every attendee gets Google's invitation."""

    event_id: str
    organizer_email: str
    summary: str
    description: str
    start: datetime
    end: datetime
    attendee_emails: tuple[str, ...]
    with_meet: bool


@dataclass(frozen=True)
class CreatedEvent:
    event_id: str
    html_link: str | None
    meet_link: str | None


@dataclass(frozen=True)
class ChangedEvent:
    """An event as ``events.list`` reports a change: its status, time and each attendee's answer."""

    event_id: str
    status: str  # confirmed | tentative | cancelled (deleted)
    start: datetime | None
    end: datetime | None
    responses: Mapping[str, str] = field(default_factory=dict)  # attendee email -> responseStatus


@dataclass(frozen=True)
class CalendarChanges:
    events: list[ChangedEvent]
    sync_token: str


class CalendarSyncExpired(TransientError):
    """Google no longer knows the sync token (410): read the calendar again from the start."""


class CalendarLookupError(PermanentError):
    """Some calendars could not be read (unknown address, no access); ``busy`` holds the ones that were.

    ``errors`` maps each calendar that failed to the reasons Google gave, e.g. ``{"x@y.com": "notFound"}``.
    """

    def __init__(self, errors: Mapping[str, str], busy: Mapping[str, list[Interval]]):
        self.errors = dict(errors)
        self.busy = dict(busy)
        listed = ", ".join(f"{email} ({reason})" for email, reason in self.errors.items())
        super().__init__(f"free/busy unavailable for {len(self.errors)} calendar(s): {listed}")


class EventMoveRefused(PermanentError):
    """The calendar service refused to give an event another organizer (Google: 403, the organizer may not
    write to the new host's calendar; 400, an event of a kind that cannot move); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int):
        self.status = status
        super().__init__(message)


class Calendar(Protocol):
    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        """Busy intervals per calendar over ``[start, end)``; one freebusy call per 50 calendars.

        Raises CalendarLookupError when some calendars cannot be read (the others are on it)."""
        ...

    def create_event(self, event: CalendarEvent) -> CreatedEvent:
        """Creates the event, or returns it when its (deterministic) id already exists."""
        ...

    def cancel_event(self, organizer_email: str, event_id: str) -> None:
        """Cancels the event and tells the attendees; an event already gone is fine."""
        ...

    def changes(self, calendar_email: str, sync_token: str | None, since: datetime) -> CalendarChanges:
        """Events changed since ``sync_token`` (``events.list`` with the token, deleted ones included), or
        with no token every event ending after ``since``; with the token for the next call. Raises
        CalendarSyncExpired when the token is too old."""
        ...

    def update_event(self, event: CalendarEvent, leaving: Sequence[str] = ()) -> bool:
        """Brings the event on ``event.organizer_email``'s calendar in line with ``event``: its time and
        subject, every address of ``event.attendee_emails`` invited (the others' answers kept, other guests
        left as they are), the addresses in ``leaving`` (and not in ``event``) no longer invited; restores it
        if it was cancelled and tells the attendees. False when that calendar has no such event."""
        ...

    def transfer_event(self, organizer_email: str, event_id: str, new_organizer_email: str) -> bool:
        """Moves the one event to ``new_organizer_email``'s calendar (Google's ``events.move``: the same id,
        guests and answers, the new organizer); False when ``organizer_email``'s calendar has no such event.
        Raises EventMoveRefused when the calendar service will not move it."""
        ...


def calendar_event_id(booking_id: str) -> str:
    """The Google event id of a booking: base32hex (``a-v``, ``0-9``), 52 characters, same input -> same id."""
    if not booking_id:
        raise ValueError("a booking id is needed to derive a calendar event id")
    digest = hashlib.sha256((EVENT_ID_NAMESPACE + booking_id).encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def invited(current: Sequence[str], event: CalendarEvent, leaving: Sequence[str] = ()) -> tuple[str, ...]:
    """Who an updated event invites: those invited now but ``leaving`` (unless ``event`` still invites
    them), then the organizer and attendees of ``event`` not invited yet."""
    wanted = (event.organizer_email, *event.attendee_emails)
    kept = [email for email in current if email in wanted or email not in leaving]
    return tuple(dict.fromkeys([*kept, *wanted]))


def freebusy_calls_for(calendars: int) -> int:
    return math.ceil(calendars / FREEBUSY_CALENDARS_PER_CALL)


def overlapping(intervals: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [interval for interval in intervals if interval.end > start and interval.start < end]


class UnconfiguredCalendar:
    """The embedded default without Google settings: every call says which settings are missing."""

    PROBLEM = ("BATON_GOOGLE_SERVICE_ACCOUNT_FILE", "no Google service account is configured for bookings")

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        raise ConfigError([self.PROBLEM])

    def create_event(self, event: CalendarEvent) -> CreatedEvent:
        raise ConfigError([self.PROBLEM])

    def cancel_event(self, organizer_email: str, event_id: str) -> None:
        raise ConfigError([self.PROBLEM])

    def update_event(self, event: CalendarEvent, leaving: Sequence[str] = ()) -> bool:
        raise ConfigError([self.PROBLEM])

    def transfer_event(self, organizer_email: str, event_id: str, new_organizer_email: str) -> bool:
        raise ConfigError([self.PROBLEM])

    def changes(self, calendar_email: str, sync_token: str | None, since: datetime) -> CalendarChanges:
        raise ConfigError([self.PROBLEM])


@dataclass
class RecordingCalendar:
    """In-memory calendar for unit tests.

    ``busy_by_email`` is what free/busy answers; ``events`` holds live events by id, ``created`` every
    event created (once per id), ``cancelled`` every (organizer, id) cancelled, ``updated`` every event as an
    update changed it, ``transferred`` every (organizer, id, new organizer) moved to another calendar; a move to a
    calendar in ``refuse_moves_to`` is refused (403, as Google answers without write access to it).
    ``fail_next(exc, ...)`` raises those errors on the next calls, in order. ``calls`` counts calls per kind,
    as the Google client does (``freebusy`` counts one per 50 calendars; an update is a ``get``, and a
    ``patch`` when something changed).
    """

    busy_by_email: dict[str, list[Interval]] = field(default_factory=dict)
    events: dict[str, CalendarEvent] = field(default_factory=dict)
    created: list[CalendarEvent] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    updated: list[CalendarEvent] = field(default_factory=list)
    transferred: list[tuple[str, str, str]] = field(default_factory=list)
    refuse_moves_to: set[str] = field(default_factory=set)
    gone: dict[str, CalendarEvent] = field(default_factory=dict)
    change_log: list[tuple[str, ChangedEvent]] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    failures: deque[Exception] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def _raise_injected(self) -> None:
        if self.failures:
            raise self.failures.popleft()

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        with self._lock:
            unique = list(dict.fromkeys(emails))
            self.calls["freebusy"] += freebusy_calls_for(len(unique))
            self._raise_injected()
            answer = {email: overlapping(self.busy_by_email.get(email, []), start, end)
                      for email in unique if email not in self.unreadable}
            errors = {email: self.unreadable[email] for email in unique if email in self.unreadable}
        if errors:
            raise CalendarLookupError(errors, answer)
        return answer

    def create_event(self, event: CalendarEvent) -> CreatedEvent:
        with self._lock:
            self.calls["insert"] += 1
            self._raise_injected()
            if event.event_id not in self.events:
                self.events[event.event_id] = event
                self.created.append(event)
            stored = self.events[event.event_id]
        return self._created(stored)

    def cancel_event(self, organizer_email: str, event_id: str) -> None:
        with self._lock:
            self.calls["delete"] += 1
            self._raise_injected()
            event = self.events.pop(event_id, None)
            if event is not None:
                self.gone[event_id] = event
                self.cancelled.append((organizer_email, event_id))

    def update_event(self, event: CalendarEvent, leaving: Sequence[str] = ()) -> bool:
        with self._lock:
            self.calls["get"] += 1
            self._raise_injected()
            current = self.events.get(event.event_id) or self.gone.get(event.event_id)
            if current is None or current.organizer_email != event.organizer_email:
                return False
            new = replace(current, summary=event.summary, start=event.start, end=event.end,
                          attendee_emails=invited(current.attendee_emails, event, leaving))
            if new != current or event.event_id in self.gone:
                self.calls["patch"] += 1
                self.gone.pop(event.event_id, None)
                self.events[event.event_id] = new
                self.updated.append(new)
            return True

    def transfer_event(self, organizer_email: str, event_id: str, new_organizer_email: str) -> bool:
        with self._lock:
            self.calls["move"] += 1
            self._raise_injected()
            event = self.events.get(event_id)
            if event is None or event.organizer_email != organizer_email:
                return False
            if new_organizer_email in self.refuse_moves_to:
                raise EventMoveRefused(f"{organizer_email} may not write to calendar {new_organizer_email}", 403)
            self.events[event_id] = replace(event, organizer_email=new_organizer_email)
            self.transferred.append((organizer_email, event_id, new_organizer_email))
            return True

    def host_changed(self, calendar_email: str, change: ChangedEvent) -> None:
        """A host's own change (decline, move, delete) that ``changes`` will report."""
        with self._lock:
            self.change_log.append((calendar_email, change))

    def changes(self, calendar_email: str, sync_token: str | None, since: datetime) -> CalendarChanges:
        with self._lock:
            self.calls["list"] += 1
            self._raise_injected()
            first = int(sync_token) if sync_token else 0
            found = [change for calendar, change in self.change_log[first:] if calendar == calendar_email]
            return CalendarChanges(found, str(len(self.change_log)))

    @staticmethod
    def _created(event: CalendarEvent) -> CreatedEvent:
        meet = f"https://meet.google.com/{event.event_id[:3]}-{event.event_id[3:7]}-{event.event_id[7:10]}"
        return CreatedEvent(event.event_id, f"https://calendar.google.com/event?eid={event.event_id}",
                            meet if event.with_meet else None)
