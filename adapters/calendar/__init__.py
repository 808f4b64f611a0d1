"""Calendars: free/busy and hand-over meeting events (ports, deterministic event ids, a recording fake).

The Google Calendar client lives in ``adapters.calendar.google``; the composition root (``baton.bootstrap``)
builds it from settings.
"""

from adapters.calendar.ports import (
    Calendar,
    CalendarChanges,
    CalendarEvent,
    CalendarLookupError,
    CalendarSyncExpired,
    ChangedEvent,
    CreatedEvent,
    EventMoveRefused,
    RecordingCalendar,
    UnconfiguredCalendar,
    calendar_event_id,
)

__all__ = [
    "Calendar",
    "CalendarChanges",
    "CalendarEvent",
    "CalendarLookupError",
    "CalendarSyncExpired",
    "ChangedEvent",
    "CreatedEvent",
    "EventMoveRefused",
    "RecordingCalendar",
    "UnconfiguredCalendar",
    "calendar_event_id",
]
