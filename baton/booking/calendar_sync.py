"""Calendar changes come back: each host calendar holding a live booking's event is read with
``events.list`` sync tokens (polled by the scheduler), and what the host did to a booking's event
updates the booking:

- deleted or declined by the main host: the booking is cancelled (time freed, Salesforce Event marked),
  or, when the pool says ``host_declines: reroute``, given to another free pool member at the same time;
- moved: the reservation follows the event to its new time (a clash with another booking is logged and
  the reservation stays), and the Salesforce Event moves with it;
- declined by a co-host: their time is released and they leave the booking, replaced by a free member of the
  extra pool they were chosen from when it says ``co_host_declines: replace`` (``baton.booking.co_hosts``).

A token Google no longer knows (410) is dropped and the calendar read again from a day ago; a token is
stored only after every change it covers was applied, so a crash in between reads them again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from dramatiq import Broker

from adapters.calendar import CalendarChanges, CalendarSyncExpired, ChangedEvent
from baton.booking import lifecycle
from baton.booking.chain import host_of
from baton.booking.co_hosts import co_host_declined
from baton.booking.planning import BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import SlotUnavailable
from kernel.ports.bookings import BookingRow, Hold, SlotTaken
from routing.booking.calendar_changes import EventChange, Reaction, react

log = structlog.get_logger(__name__)
LOOK_BACK = timedelta(days=1)


def poll_calendars(ports: BookingPorts, broker: Broker, now: datetime) -> int:
    """Reads every host calendar's changes once; returns how many bookings changed."""
    if ports.calendar is None:
        return 0
    bookings = ports.bookings
    changed = 0
    for host_id in bookings.live_event_hosts(now - LOOK_BACK):
        email = _email(ports, host_id)
        if email is None:
            continue
        changes = _changes(ports, email, now)
        ours = bookings.by_calendar_event(event.event_id for event in changes.events)
        for event in changes.events:
            booking = ours.get(event.event_id)
            if booking is not None and booking.event_host_id == host_id:
                changed += _apply(booking, event, ports, broker)
        bookings.save_calendar_sync_token(email, changes.sync_token, now)
    return changed


def _email(ports: BookingPorts, host_id: str) -> str | None:
    config = ports.configs.current()[1]
    for team in config.teams:
        member = team.member(host_id)
        if member is not None and member.email:
            return member.email
    user = ports.reference_sync.row("User", host_id)
    return (user.calendar_email or user.email) if user else None


def _changes(ports: BookingPorts, email: str, now: datetime) -> CalendarChanges:
    assert ports.calendar is not None
    bookings = ports.bookings
    token = bookings.calendar_sync_token(email)
    try:
        return ports.calendar.changes(email, token, now - LOOK_BACK)
    except CalendarSyncExpired:
        log.info("calendar_sync_token_expired", calendar=email)
        bookings.save_calendar_sync_token(email, None, now)
        return ports.calendar.changes(email, None, now - LOOK_BACK)


def _apply(booking: BookingRow, event: ChangedEvent, ports: BookingPorts, broker: Broker) -> int:
    if booking.status not in {"reserved", "calendar_created", "event_created", "confirmed"}:
        return 0
    emails = {host: host_of(booking, ports, host).email for host in (booking.host_id, *booking.co_host_ids)}
    co_hosts = {email: host for host, email in emails.items() if email and host != booking.host_id}
    verdict = react(EventChange(booking.starts_at, booking.ends_at, emails[booking.host_id], tuple(co_hosts),
                                event.status, event.start, event.end, event.responses))
    if verdict.reaction is Reaction.NONE:
        return 0
    log.info("calendar_change", booking_id=booking.id, reaction=verdict.reaction.value, detail=verdict.detail)
    if verdict.reaction in (Reaction.DELETED, Reaction.DECLINED):
        if not _rerouted(booking, verdict.detail, ports):
            lifecycle.cancel(booking.id, verdict.detail, ports)
        lifecycle.send_sync(broker, booking.id, ports)
        return 1
    moved = verdict.start is not None and verdict.end is not None and _follow(
        booking, verdict.start, verdict.end, ports)
    for email in verdict.co_hosts:  # at the meeting's time, the new one when it moved
        co_host_declined(booking.id, co_hosts[email], verdict.detail, ports)
    if not moved and not verdict.co_hosts:
        return 0
    lifecycle.send_sync(broker, booking.id, ports)
    return 1


def _rerouted(booking: BookingRow, reason: str, ports: BookingPorts) -> bool:
    config = ports.configs.current()[1]
    pool = config.booking.pool(booking.pool) if booking.pool and booking.pool in {
        p.team for p in config.booking.pools} else None
    if pool is None or pool.host_declines != "reroute":
        return False
    try:
        lifecycle.move(booking.id, ports, exclude_host=True, reason=reason)
    except (SlotUnavailable, BookingProblems) as exc:
        log.warning("calendar_reroute_failed", booking_id=booking.id, error=str(exc))
        return False
    return True


def _follow(booking: BookingRow, start: datetime, end: datetime, ports: BookingPorts) -> bool:
    """The reservation moves to where the host put the meeting (its buffers kept)."""
    booking_type = ports.configs.current()[1].booking.booking_type(booking.booking_type)
    before = timedelta(minutes=booking_type.buffer_before_minutes)
    after = timedelta(minutes=booking_type.buffer_after_minutes)
    holds = [Hold(host, start - before, end + after) for host in (booking.host_id, *booking.co_host_ids)]
    try:
        ports.bookings.move(booking.id, booking.host_id, start, end, holds, ports.clock())
    except SlotTaken as exc:
        log.warning("calendar_move_conflict", booking_id=booking.id, start=start.isoformat(), error=str(exc))
        return False
    return True
