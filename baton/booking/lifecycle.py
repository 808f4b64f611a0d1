"""After a booking: cancel, no-show, reschedule and reassign.

Each change is made in the store at once (the booking's row and its reserved time, in one transaction)
and then the ``booking_sync`` actor brings the copies outside in line with the row: the one calendar
event is cancelled or updated (moved to the new host's calendar with ``events.move`` when the host changed),
the one Salesforce Event is upserted on the booking id (the same Event, never a second) with the new time,
owner or a ``Cancelled:`` / ``No-show:`` subject. The sync reads only the row, so running it twice changes
nothing more.

Fairness follows the row: a cancelled meeting stops counting for its host unless the pool says
``cancelled: count``; a no-show counts unless ``no_show: exclude``; a meeting reassigned or rescheduled
to another host counts for the new host (the previous one is credited back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import structlog
from dramatiq import Broker

from adapters.calendar import (
    Calendar,
    CalendarEvent,
    CreatedEvent,
    EventMoveRefused,
    calendar_event_id,
)
from baton.booking.chain import (  # noqa: F401 - the prefixes are re-exported (the sync marks events with them)
    CANCELLED_PREFIX,
    NO_SHOW_PREFIX,
    calendar_event,
    host_of,
    owner_logs,
    store_owner_logs,
    synced_event_fields,
)
from baton.booking.planning import (
    BookingPlan,
    BookingProblems,
    cap_limits,
    group_cap_limits,
    plan_booking,
)
from baton.booking.ports import BookingPorts
from baton.booking.reserve import (
    SlotUnavailable,
    alternatives,
    free_hosts_at,
    holds_for,
    window_problems,
)
from baton.chains import BOOKING_SYNC
from kernel.errors import PermanentError
from kernel.ports.bookings import BookingRepository, BookingRow, CapReached, SlotTaken
from messages import RecordEvent
from messages.booking import BookingRequest, BookingStatus, BookingStep
from routing.lifecycles.booking import BOOKING, ENDED

log = structlog.get_logger(__name__)


class BookingNotFound(LookupError):
    def __init__(self, booking_id: str):
        self.booking_id = booking_id
        super().__init__(f"no booking {booking_id}")


class BookingEnded(Exception):
    """The booking was cancelled or failed: it cannot change any more (a 409)."""

    def __init__(self, booking: BookingRow):
        self.booking = booking
        super().__init__(f"booking {booking.id} is {booking.status}")


def _live(bookings: BookingRepository, booking_id: str) -> BookingRow:
    booking = bookings.get(booking_id)
    if booking is None:
        raise BookingNotFound(booking_id)
    if BookingStatus(booking.status) in ENDED:
        raise BookingEnded(booking)
    return booking


def send_sync(broker: Broker, booking_id: str, ports: BookingPorts) -> None:
    step = BookingStep(booking_id=booking_id, enqueued_at=ports.clock())
    broker.get_actor(BOOKING_SYNC.name).send(step.model_dump(mode="json"))


def _move_to(booking_id: str, to: BookingStatus, ports: BookingPorts,
             apply: Callable[[BookingRow], bool]) -> tuple[BookingRow, bool]:
    """The booking moved to ``to`` by ``apply`` (a compare-and-set), and whether this call moved it: read again
    and tried again when a step of its chain moved it on meanwhile. Already at ``to``, nothing changes; one that
    cannot go there any more (ended) raises BookingEnded."""
    bookings = ports.bookings
    while True:  # each lost race is another transition, and the table has no cycle: this ends
        booking = bookings.get(booking_id)
        if booking is None:
            raise BookingNotFound(booking_id)
        if booking.status == to:
            return booking, False
        if not BOOKING.allows(booking.status, to):
            raise BookingEnded(booking)
        if apply(booking):
            return bookings.get(booking_id), True  # type: ignore[return-value]


def cancel(booking_id: str, reason: str, ports: BookingPorts) -> BookingRow:
    """The booking is cancelled and its reserved time freed; cancelling again changes nothing. A step of the
    chain that made something meanwhile takes it back when it finds the booking cancelled."""
    def release(booking: BookingRow) -> bool:
        return ports.bookings.release(booking, BookingStatus.CANCELLED, ports.clock(), f"cancelled: {reason}"[:4000])

    cancelled, changed = _move_to(booking_id, BookingStatus.CANCELLED, ports, release)
    if changed:
        log.info("booking_cancelled", booking_id=booking_id, host_id=cancelled.host_id, reason=reason)
    return cancelled


def mark_no_show(booking_id: str, ports: BookingPorts) -> BookingRow:
    """The guest did not come: the booking is a no-show (its time stays taken: it happened)."""
    def mark(booking: BookingRow) -> bool:
        return ports.bookings.transition(booking, BookingStatus.NO_SHOW, ports.clock())

    marked, changed = _move_to(booking_id, BookingStatus.NO_SHOW, ports, mark)
    if changed:
        log.info("booking_no_show", booking_id=booking_id, host_id=marked.host_id)
    return marked


def replan(booking: BookingRow, ports: BookingPorts, bookings: BookingRepository, now: datetime, *,
           co_hosts: Sequence[str] | None = None, extra_pools: Sequence[str] = ()) -> tuple[BookingRequest, BookingPlan]:
    """The booking planned again on the current config: its co-hosts (or ``co_hosts``) fixed, ``extra_pools``
    to choose from; its own meeting does not count against its host."""
    stored = {key: value for key, value in booking.request.items() if key != "config_version"}
    request = BookingRequest.model_validate({**stored, "start": booking.starts_at.isoformat(), "meet_now": False})
    version, config = ports.configs.current()
    plan = plan_booking(version, config, ports.decisions, ports.reference_sync, bookings,
                        object_type=request.object_type, record_id=request.record_id,
                        record_fields=request.record_fields, host=request.host,
                        meeting_type=booking.booking_type,
                        co_hosts=booking.co_host_ids if co_hosts is None else co_hosts, now=now,
                        extra_pools=extra_pools)
    counts = dict(plan.meeting_counts)
    if counts.get(booking.host_id):  # the meeting being moved does not count against its own host
        counts[booking.host_id] -= 1
    return request, replace(plan, meeting_counts=counts)


def _narrowed(plan: BookingPlan, booking: BookingRow, *, exclude_host: bool, wanted: str | None) -> BookingPlan:
    """The plan's candidates for a reassignment: the named member, or everyone but the current host."""
    if wanted is not None:
        if wanted in plan.skipped:
            raise BookingProblems([("host_id", f"{wanted}: {plan.skipped[wanted]}")])
        if wanted not in plan.hosts.main_candidates:
            raise BookingProblems([("host_id", f"{wanted} is not a member of the pool")])
        return replace(plan, hosts=replace(plan.hosts, candidates=(wanted,)))
    if not exclude_host:
        return plan
    others = tuple(host for host in plan.hosts.candidates if host != booking.host_id)
    if plan.pool is None or not others:
        raise BookingProblems([("host_id", "the meeting has no pool to route it to another host in")])
    return replace(plan, hosts=replace(plan.hosts, candidates=others))


def _hosts_to_try(booking: BookingRow, plan: BookingPlan, free: list[str], *, keep_host: bool) -> list[str]:
    ordered = list(free)
    if keep_host and booking.host_id in ordered:
        ordered.remove(booking.host_id)
        ordered.insert(0, booking.host_id)
    if plan.pool is None:  # a named host, the record's or the account's owner: only that host
        ordered = [host for host in ordered if host == booking.host_id]
    return ordered


def move(booking_id: str, ports: BookingPorts, *, start: datetime | None = None, exclude_host: bool = False,
         host_id: str | None = None, reason: str = "") -> BookingRow:
    """Reschedule (a new ``start``) or reassign (another host: ``exclude_host`` routes the meeting again
    without its host, ``host_id`` names one): the same host when they are free and the pool keeps hosts on
    reschedule (``reschedule: same_host``), otherwise the pool's choice among its free members. Raises
    BookingProblems (422), SlotUnavailable (409 with alternatives) or BookingEnded (409)."""
    bookings = ports.bookings
    booking = _live(bookings, booking_id)
    if booking.status == BookingStatus.NO_SHOW.value:
        raise BookingEnded(booking)
    now = ports.clock()
    wanted = start or booking.starts_at
    request, plan = replan(booking, ports, bookings, now)
    plan = _narrowed(plan, booking, exclude_host=exclude_host, wanted=host_id)
    problems = window_problems(plan, wanted, now) if start is not None else []  # a reassignment keeps its time
    if problems:
        raise BookingProblems(problems)
    keep = plan.pool is None or plan.pool.reschedule == "same_host"
    free = free_hosts_at(plan, request, wanted, now, ports.calendar, bookings, moving=booking)
    pools = ports.configs.current()[1].booking.pools
    kept_group_caps = group_cap_limits(plan, pools, bookings.group_hosts_of(booking_id), wanted) if start else []
    refusals: list[str] = []
    for candidate in _hosts_to_try(booking, plan, free, keep_host=keep and not exclude_host):
        try:
            caps = [*cap_limits(plan, candidate, wanted), *kept_group_caps]
            bookings.move(booking_id, candidate, wanted, wanted + plan.meeting_length,
                          holds_for(plan, candidate, wanted), now, caps)
        except (SlotTaken, CapReached) as exc:
            refusals.append(str(exc))
            continue
        log.info("booking_moved", booking_id=booking_id, host_id=candidate, previous_host_id=booking.host_id,
                 start=wanted.isoformat(), previous_start=booking.starts_at.isoformat(), reason=reason)
        return bookings.get(booking_id)  # type: ignore[return-value]
    what = "no other pool member is free" if exclude_host or host_id else f"{wanted.isoformat()} is not free"
    if refusals:
        what += f" ({'; '.join(refusals)})"
    raise SlotUnavailable(wanted, what, alternatives(plan, wanted, now, ports.calendar, bookings))


def sync(step: BookingStep, ports: BookingPorts) -> None:
    """Brings the calendar event and the Salesforce Event in line with the booking's row."""
    booking = ports.bookings.get(step.booking_id)
    if booking is None:
        raise PermanentError(f"booking {step.booking_id} is not in the store")
    status = BookingStatus(booking.status)
    if status == BookingStatus.FAILED:
        return  # give_up removed what the booking created
    if ports.calendar is not None and booking.calendar_event_id:
        _sync_calendar(booking, status, ports)
    if status == BookingStatus.CONFIRMED:
        _follow_owner(booking, ports)
    if ports.salesforce_events is not None and booking.salesforce_event_id:
        ports.salesforce_events.upsert_event(booking.id, synced_event_fields(booking, ports))
    log.info("booking_synced", booking_id=booking.id, status=booking.status, host_id=booking.host_id,
             start=booking.starts_at.isoformat())


def _follow_owner(booking: BookingRow, ports: BookingPorts) -> None:
    """A meeting reassigned after its record got the host as owner: the record follows the new host (a
    decision and an outbox row of its own, stored once)."""
    with ports.decisions.transaction() as transaction:
        known = transaction.record_states([(booking.object_type, booking.record_id)])
    current = known.get((booking.object_type, booking.record_id))
    if current is None or current.owner_id in (None, booking.host_id):
        return
    owner_decision = ports.decisions.assignment_logs([current.routing_id]).get(current.routing_id) or {}
    if owner_decision.get("source_event_id") != f"booking:{booking.id}":
        return  # the record's owner came from something else since (routing, another booking): leave it
    new = store_owner_logs(owner_logs(booking, ports, f"host:{booking.host_id}:{booking.starts_at.isoformat()}"), ports)
    if new:
        log.info("booking_owner_moved", booking_id=booking.id, owner_id=booking.host_id,
                 previous_owner_id=current.owner_id)


def _sync_calendar(booking: BookingRow, status: BookingStatus, ports: BookingPorts) -> None:
    calendar = ports.calendar
    assert calendar is not None
    event_id = calendar_event_id(booking.id)
    holder = host_of(booking, ports, booking.event_host_id).email
    if status == BookingStatus.CANCELLED:
        if holder:
            calendar.cancel_event(holder, event_id)
        return
    if status == BookingStatus.NO_SHOW:
        return
    if booking.event_host_id != booking.host_id:  # reassigned: the one event moves to the new host's calendar
        created = _move_to_new_host(booking, calendar_event(booking, ports), holder, calendar)
        if created is None:
            ports.bookings.record_calendar_holder(booking.id, booking.host_id, ports.clock())
        else:
            ports.bookings.record_recreated_calendar_event(booking.id, booking.host_id, created.meet_link,
                                                                 ports.clock())
        return
    if holder and not calendar.update_event(calendar_event(booking, ports)):
        log.warning("calendar_event_missing", booking_id=booking.id, event_id=event_id, calendar=holder)


def _move_to_new_host(booking: BookingRow, event: CalendarEvent, previous: str | None,
                      calendar: Calendar) -> CreatedEvent | None:
    """The meeting's one event changes organizer (``events.move``: same id, guests keep their invitation), then
    is updated: the previous host no longer invited, the new host and the time as booked. Returns the event
    created when there was none to move.

    Fallback when the calendar service refuses the move (Google 403: the previous host may not write to the new
    host's calendar; 400: an event that cannot move): the event is cancelled on the previous host's calendar and
    made again on the new host's, under the same id, so the guests get a cancellation and a new invitation but
    never two live events; logged as ``calendar_event_move_refused``. An event found on neither calendar (deleted
    by hand) is made again on the new host's; one already on it (an earlier sync moved it) is only updated."""
    try:
        if previous and not calendar.transfer_event(previous, event.event_id, event.organizer_email):
            log.info("calendar_event_not_on_previous_calendar", booking_id=booking.id, calendar=previous)
    except EventMoveRefused as exc:
        log.warning("calendar_event_move_refused", booking_id=booking.id, calendar=previous,
                    new_calendar=event.organizer_email, status=exc.status, error=str(exc))
        assert previous is not None
        calendar.cancel_event(previous, event.event_id)
    if calendar.update_event(event, leaving=(previous,) if previous else ()):
        return None
    return calendar.create_event(event)


TRUE_VALUES = (True, "true", "True", "1", 1)


def no_shows_from_events(events: Iterable[RecordEvent], no_show_field: str, ports: BookingPorts, broker: Broker) -> int:
    """Salesforce Event changes that set the no-show field: each booked meeting they belong to (by its
    Event id or its external id) becomes a no-show; returns how many changed."""
    marked = 0
    bookings = ports.bookings
    for event in events:
        if event.object_type != "Event" or event.fields.get(no_show_field) not in TRUE_VALUES:
            continue
        if event.changed_fields is not None and no_show_field not in event.changed_fields:
            continue
        booking = bookings.by_salesforce_event(event.record_id)
        if booking is None or booking.status == BookingStatus.NO_SHOW.value:
            continue
        try:
            mark_no_show(booking.id, ports)
        except BookingEnded:
            continue
        send_sync(broker, booking.id, ports)
        marked += 1
    return marked
