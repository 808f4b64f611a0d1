"""The booking chain after the reservation, one handler per stage: calendar event -> Salesforce Event ->
owner through the outbox -> booking log. Each handler is safe to run again (deterministic ids, upserts, a
stored status); ``give_up`` undoes what a booking created when it finally fails.

Each step is one transition of the booking's state machine (``routing.lifecycles.booking``): it makes its
effect outside (calendar event, Salesforce Event, owner change), then records it with the transition, a
compare-and-set on the status and version it read. When the booking changed meanwhile the step lost a race: if
a cancel or a failure ended the booking, the step takes back what it made (the event cancelled, the Salesforce
Event marked as the ending's own clean-up marks it, the owner change withdrawn from the outbox); otherwise a
duplicate delivery of the step moved the booking on first, and that one hands on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from adapters.calendar import CalendarEvent, calendar_event_id
from adapters.logstream.entries import booking_entries
from baton.booking.directory import HostInfo, host_info
from baton.booking.ports import BookingPorts
from kernel.errors import PermanentError
from kernel.ports.bookings import BookingRow
from kernel.ports.decisions import Assignment, OwnerWrite, RecordStateUpdate
from messages import AssignmentLog, Outcome, Source
from messages.booking import BookingLog, BookingStatus, BookingStep, booking_id_for
from routing.booking.platforms import PLATFORMS
from routing.config import OrgConfig
from routing.lifecycles.booking import BOOKING, ENDED

log = structlog.get_logger(__name__)
OWNER_FIELD = "OwnerId"
SALESFORCE_DATETIME = "%Y-%m-%dT%H:%M:%S.000+0000"
CANCELLED_PREFIX = "Cancelled: "
NO_SHOW_PREFIX = "No-show: "


def _load(booking_id: str, ports: BookingPorts) -> BookingRow:
    booking = ports.bookings.get(booking_id)
    if booking is None:
        raise PermanentError(f"booking {booking_id} is not in the store")
    return booking


@dataclass(frozen=True)
class Made:
    """What a step did: whether its transition was recorded, and how to take back what it made outside when
    the booking ended before it could record it (given the booking as it ended)."""

    recorded: bool
    take_back: Callable[[BookingRow], None] = lambda _ended: None


def _run_step(step: BookingStep, ports: BookingPorts, to: BookingStatus,
              make: Callable[[BookingRow, BookingPorts], Made]) -> BookingStep | None:
    """One step of the chain: moves the booking to ``to`` through ``make``, then hands on. A booking already at
    ``to`` is handed on again (its next message may not have been sent); one past it, or ended, is left."""
    booking = _load(step.booking_id, ports)
    if booking.status == to:
        return _next(step, ports)
    if not BOOKING.allows(booking.status, to):
        log.info("booking_step_skipped", booking_id=booking.id, status=booking.status, step_to=to.value)
        return None
    made = make(booking, ports)
    if made.recorded:
        return _next(step, ports)
    current = _load(booking.id, ports)
    if BookingStatus(current.status) in ENDED:
        made.take_back(current)
        log.warning("booking_step_taken_back", booking_id=booking.id, status=current.status, step_to=to.value)
    else:  # a duplicate delivery of this step recorded it first, and hands on
        log.info("booking_step_overtaken", booking_id=booking.id, status=current.status, step_to=to.value)
    return None


def _config(booking: BookingRow, ports: BookingPorts) -> OrgConfig:
    version = booking.request.get("config_version")
    return ports.configs.version(version) if version else ports.configs.current()[1]


def _next(step: BookingStep, ports: BookingPorts) -> BookingStep:
    return BookingStep(booking_id=step.booking_id, enqueued_at=ports.clock())


def host_of(booking: BookingRow, ports: BookingPorts, host_id: str) -> HostInfo:
    return host_info(_config(booking, ports), ports.reference_sync, host_id, booking.pool)


def _subject(booking: BookingRow, ports: BookingPorts) -> str:
    config = _config(booking, ports)
    request = booking.request
    duration = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
    return config.booking.subject(
        meeting_type=booking.booking_type, guest_name=request.get("guest_name") or booking.guest_email,
        guest_email=booking.guest_email, host_name=host_of(booking, ports, booking.host_id).name,
        scheduler_name=request.get("scheduler_name") or booking.scheduler_user_id,
        record_name=request.get("record_fields", {}).get("Name", ""),
        company=request.get("record_fields", {}).get("Company", ""), duration_minutes=duration,
    )


def calendar_event(booking: BookingRow, ports: BookingPorts) -> CalendarEvent:
    """The booking's meeting as its main host's calendar holds it: every host and guest invited."""
    hosts = [host_of(booking, ports, host_id) for host_id in (booking.host_id, *booking.co_host_ids)]
    organizer = hosts[0].email
    if not organizer:
        raise PermanentError(f"host {booking.host_id} has no calendar address")
    attendees = [host.email for host in hosts if host.email] + [booking.guest_email, *booking.invitees]
    return CalendarEvent(
        event_id=calendar_event_id(booking.id), organizer_email=organizer,
        summary=_subject(booking, ports), description=f"Booked with Baton (booking {booking.id})",
        start=booking.starts_at, end=booking.ends_at, attendee_emails=tuple(dict.fromkeys(attendees)),
        with_meet=PLATFORMS[booking.platform].calendar_adds_video_link,
    )


def create_calendar_event(step: BookingStep, ports: BookingPorts) -> BookingStep | None:
    """The meeting on the main host's calendar, every host and guest invited, Meet link when asked
    (reserved -> calendar_created)."""
    return _run_step(step, ports, BookingStatus.CALENDAR_CREATED, _make_calendar_event)


def _make_calendar_event(booking: BookingRow, ports: BookingPorts) -> Made:
    to, calendar = BookingStatus.CALENDAR_CREATED, ports.calendar
    if calendar is None or booking.calendar_event_id is not None:
        return Made(ports.bookings.transition(booking, to, ports.clock()))
    event = calendar_event(booking, ports)
    created = calendar.create_event(event)
    recorded = ports.bookings.record_calendar_event(booking, to, ports.clock(), event_id=created.event_id,
                                                    meet_link=created.meet_link, host_id=booking.host_id)
    return Made(recorded, lambda _ended: calendar.cancel_event(event.organizer_email, created.event_id))


def _utc(value: object) -> str:
    return value.strftime(SALESFORCE_DATETIME)  # type: ignore[attr-defined]


def event_fields(booking: BookingRow, ports: BookingPorts, subject_prefix: str = "") -> dict[str, object]:
    """The Salesforce Event of a booking: on the record, assigned to the main host (or to who booked it, as the
    booking type says), at the booking's time, with the booking type's extra Event fields."""
    settings = _config(booking, ports).booking
    relation = settings.for_object(booking.object_type).relation_field(booking.object_type)
    booking_type = next((kind for kind in settings.types if kind.name == booking.booking_type), None)
    assigned_to = booking.host_id
    if booking_type is not None and booking_type.event_assigned_to == "scheduler":
        assigned_to = booking.scheduler_user_id
    return {
        **(booking_type.event_fields if booking_type is not None else {}),
        "Subject": (subject_prefix + _subject(booking, ports))[:255], "StartDateTime": _utc(booking.starts_at),
        "EndDateTime": _utc(booking.ends_at), "OwnerId": assigned_to, relation: booking.record_id,
        "Location": booking.meet_link or "", "Description": f"Booked with Baton (booking {booking.id})",
    }


def synced_event_fields(booking: BookingRow, ports: BookingPorts) -> dict[str, Any]:
    """The Salesforce Event as the booking's row has it now: a cancelled meeting's subject prefixed
    ``Cancelled:`` and shown free, a no-show's prefixed ``No-show:``."""
    status = BookingStatus(booking.status)
    prefix = {BookingStatus.CANCELLED: CANCELLED_PREFIX, BookingStatus.NO_SHOW: NO_SHOW_PREFIX}.get(status, "")
    fields = event_fields(booking, ports, prefix)
    if status == BookingStatus.CANCELLED:
        fields["ShowAs"] = "Free"
    return fields


def upsert_salesforce_event(step: BookingStep, ports: BookingPorts) -> BookingStep | None:
    """The Salesforce Event on the record (WhoId for people, WhatId otherwise), upserted on the booking id
    (calendar_created -> event_created)."""
    return _run_step(step, ports, BookingStatus.EVENT_CREATED, _make_salesforce_event)


def _make_salesforce_event(booking: BookingRow, ports: BookingPorts) -> Made:
    to, events = BookingStatus.EVENT_CREATED, ports.salesforce_events
    if events is None:
        return Made(ports.bookings.transition(booking, to, ports.clock()))
    event_id = events.upsert_event(booking.id, event_fields(booking, ports))

    def take_back(ended: BookingRow) -> None:  # as the cancel's sync marks it, or as a failure deletes it
        if ended.status == BookingStatus.CANCELLED:
            events.upsert_event(ended.id, synced_event_fields(ended, ports))
        else:
            events.delete_event(ended.id)

    return Made(ports.bookings.record_salesforce_event(booking, to, event_id, ports.clock()), take_back)


def _owner_log(booking: BookingRow, ports: BookingPorts, routing_id: str, object_type: str, record_id: str,
               reasons: list[str]) -> AssignmentLog:
    now = ports.clock()
    return AssignmentLog(
        routing_id=routing_id, record_id=record_id, object_type=object_type, outcome=Outcome.ASSIGNED,
        owner_id=booking.host_id, team=booking.pool, method="booking", reasons=reasons,
        config_version=booking.request.get("config_version"), source=Source.API.value,
        source_event_id=f"booking:{booking.id}", event_at=booking.created_at, decided_at=now,
    )


@dataclass(frozen=True)
class HostTarget:
    """A record a booking gives its main host to, and the user field it goes to."""

    routing_id: str
    object_type: str
    record_id: str
    field: str
    via: str = ""


def host_targets(booking: BookingRow, ports: BookingPorts, moved: str = "") -> list[HostTarget]:
    """Where the main host goes: the record's ``owner_field`` (none when null), and each related record's
    ``owner_field`` through its lookup. ``moved`` (a reassigned meeting's new host and time) gives the new
    host's writes their own routing ids."""
    settings = _config(booking, ports).booking.for_object(booking.object_type)
    base = booking_id_for(f"{booking.id}:{moved}") if moved else booking.id
    targets = []
    if settings.owner_field is not None:
        routing_id = base if settings.owner_field == OWNER_FIELD else booking_id_for(f"{base}:{settings.owner_field}")
        targets.append(HostTarget(routing_id, booking.object_type, booking.record_id, settings.owner_field))
    fields = booking.request.get("record_fields", {})
    for update in settings.related_owner_updates:
        related_id = fields.get(update.lookup_field)
        if related_id:
            related_type = "Account" if "Account" in update.lookup_field else update.lookup_field.removesuffix("Id")
            targets.append(HostTarget(booking_id_for(f"{base}:{update.lookup_field}"), related_type, str(related_id),
                                      update.owner_field, update.lookup_field))
    return targets


def owner_logs(booking: BookingRow, ports: BookingPorts, moved: str = "") -> list[AssignmentLog]:
    """The owner changes a booking makes: the record's OwnerId, and related records' (a decision each, as a
    routed record's). ``moved`` (a reassigned meeting's new host and time) gives the new host's decisions their
    own routing ids."""
    reason = f"booked {booking.booking_type} at {booking.starts_at.isoformat()} (booking {booking.id})"
    if moved:
        reason = f"meeting reassigned to {booking.host_id} (booking {booking.id})"
    return [_owner_log(booking, ports, target.routing_id, target.object_type, target.record_id,
                       [f"{reason} via {target.via}" if target.via else reason])
            for target in host_targets(booking, ports, moved) if target.field == OWNER_FIELD]


def host_field_writes(booking: BookingRow, ports: BookingPorts, moved: str = "") -> list[OwnerWrite]:
    """The main host written to user fields other than OwnerId (a booking type's ``owner_field``, for example an
    SDR lookup): an outbox row each, ordered against that field's other writes only. They change no record's
    owner, so they are no decision of their own (the booking is)."""
    now = ports.clock()
    return [OwnerWrite(target.routing_id, target.object_type, target.record_id, booking.host_id, "realtime", now,
                       owner_field=target.field)
            for target in host_targets(booking, ports, moved) if target.field != OWNER_FIELD]


def store_owner_logs(logs: list[AssignmentLog], ports: BookingPorts,
                     host_fields: Sequence[OwnerWrite] = ()) -> list[AssignmentLog]:
    """Decisions, record states and outbox rows of owner changes not stored before, and the outbox rows of
    ``host_fields``, in one transaction; returns the new decisions."""
    now = ports.clock()
    with ports.decisions.transaction() as transaction:
        known = transaction.decided(log.routing_id for log in logs)
        new = [entry for entry in logs if entry.routing_id not in known]
        transaction.save_assignments([
            Assignment(entry.routing_id, entry.record_id, entry.object_type, entry.outcome.value, entry.owner_id,
                       entry.team, entry.method, entry.config_version, entry.model_dump(mode="json"),
                       entry.event_at, entry.decided_at) for entry in new])
        transaction.save_record_states([
            RecordStateUpdate(entry.object_type, entry.record_id, now, entry.routing_id, entry.owner_id, now)
            for entry in new])
        transaction.queue_owner_writes([
            *(OwnerWrite(entry.routing_id, entry.object_type, entry.record_id, entry.owner_id, "realtime", now)
              for entry in new),
            *host_fields])
    return new


def assign_owner(step: BookingStep, ports: BookingPorts) -> BookingStep | None:
    """The main host becomes the record's owner: decision, record state and outbox row in one transaction
    (the outbox flusher writes it to Salesforce, as for routed records), then event_created -> confirmed. Run
    again on a confirmed booking (its next message was not sent), it hands on again."""
    return _run_step(step, ports, BookingStatus.CONFIRMED, _make_owner_change)


def _make_owner_change(booking: BookingRow, ports: BookingPorts) -> Made:
    changes, host_fields = owner_logs(booking, ports), host_field_writes(booking, ports)
    store_owner_logs(changes, ports, host_fields)

    def take_back(ended: BookingRow) -> None:  # not sent yet: it never will be
        routing_ids = [entry.routing_id for entry in changes] + [write.routing_id for write in host_fields]
        withdrawn = ports.outbox.withdraw(routing_ids, f"booking {ended.id} {ended.status}")
        log.warning("booking_owner_change_withdrawn", booking_id=ended.id, withdrawn=withdrawn)

    return Made(ports.bookings.transition(booking, BookingStatus.CONFIRMED, ports.clock()), take_back)


def booking_log(booking: BookingRow, subject: str = "") -> BookingLog:
    return BookingLog(
        booking_id=booking.id, status=BookingStatus(booking.status), booking_type=booking.booking_type,
        object_type=booking.object_type, record_id=booking.record_id,
        scheduler_user_id=booking.scheduler_user_id, host_id=booking.host_id, pool=booking.pool,
        subject=subject, co_host_ids=booking.co_host_ids, start=booking.starts_at, end=booking.ends_at,
        guest_email=booking.guest_email, calendar_event_id=booking.calendar_event_id,
        meet_link=booking.meet_link, salesforce_event_id=booking.salesforce_event_id,
        error=booking.error, decided_at=booking.updated_at,
    )


def publish_log(step: BookingStep, ports: BookingPorts) -> None:
    """The booking's owner decisions go to the assignment log stream, then the booking log (kind ``booking``)
    to the stream and the log; with notifications configured, the host is told of the meeting."""
    booking = ports.bookings.get(step.booking_id)
    if booking is None:
        raise PermanentError(f"booking {step.booking_id} is not in the store")
    stored = ports.decisions.assignment_logs([entry.routing_id for entry in owner_logs(booking, ports)])
    ports.sink.publish([AssignmentLog.model_validate(entry) for entry in stored.values()])
    entry = booking_log(booking, _subject(booking, ports))
    ports.sink.publish_entries(booking_entries([entry]))
    log.info("booking_log", **entry.model_dump(mode="json"))


def _remove_outside(booking: BookingRow, ports: BookingPorts) -> None:
    if ports.salesforce_events is not None:  # by external id: one created by a half-done step goes too
        ports.salesforce_events.delete_event(booking.id)
    if ports.calendar is not None:
        organizer = host_of(booking, ports, booking.host_id).email
        if organizer:
            ports.calendar.cancel_event(organizer, calendar_event_id(booking.id))


def give_up(booking_id: str, reason: str, ports: BookingPorts) -> None:
    """A booking that finally failed: cancel its calendar event, delete its Salesforce Event, release its
    reserved time and mark it failed with the reason. Deletes go by the deterministic ids, so what a
    half-done step created goes too; "already gone" is fine for both. Marking it failed is a compare-and-set:
    when a step recorded its transition meanwhile, the deletes run again before the next try; a booking that
    was cancelled or confirmed meanwhile stays so."""
    bookings = ports.bookings
    booking = bookings.get(booking_id)
    while True:  # each lost race is a step's transition, and the chain has few: this ends
        if booking is None or not BOOKING.allows(booking.status, BookingStatus.FAILED):
            return  # ended (cancelled, failed) or past the chain (confirmed, a no-show)
        _remove_outside(booking, ports)  # again after a lost race: a step may have recorded its effect meanwhile
        if bookings.release(booking, BookingStatus.FAILED, ports.clock(), reason[:4000]):
            break
        booking = bookings.get(booking_id)
    log.error("booking_failed", booking_id=booking.id, reason=reason)
    failed = bookings.get(booking.id)
    try:  # the failure is stored and the stage message dead-lettered: the stream copy must not turn that into a retry
        if failed is not None:
            ports.sink.publish_entries(booking_entries([booking_log(failed)]))
    except Exception as exc:  # noqa: BLE001
        log.warning("booking_log_not_streamed", booking_id=booking.id, error=f"{type(exc).__name__}: {exc}")
