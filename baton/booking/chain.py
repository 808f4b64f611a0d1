"""The booking chain after the reservation, one handler per stage: calendar event -> Salesforce Event ->
owner through the outbox -> booking log. Each handler is safe to run again (deterministic ids, upserts, a
stored status); ``give_up`` undoes what a booking created when it finally fails."""

from __future__ import annotations

import structlog

from adapters.calendar import CalendarEvent, calendar_event_id
from adapters.logstream.entries import booking_entries
from baton.booking.directory import HostInfo, host_info
from baton.booking.ports import BookingPorts
from kernel.errors import PermanentError
from kernel.ports.bookings import BookingRow
from kernel.ports.decisions import Assignment, OwnerWrite, RecordStateUpdate
from messages import AssignmentLog, Outcome, Source
from messages.booking import FINAL_STATUSES, BookingLog, BookingStatus, BookingStep, booking_id_for
from routing.booking.platforms import PLATFORMS
from routing.config import OrgConfig

log = structlog.get_logger(__name__)
OWNER_FIELD = "OwnerId"
SALESFORCE_DATETIME = "%Y-%m-%dT%H:%M:%S.000+0000"


def _load(step: BookingStep, ports: BookingPorts, done: frozenset[BookingStatus] = FINAL_STATUSES) -> BookingRow | None:
    """The booking, or None when it already ended (a redelivery after the last stage, or a failure)."""
    booking = ports.bookings.get(step.booking_id)
    if booking is None:
        raise PermanentError(f"booking {step.booking_id} is not in the store")
    if BookingStatus(booking.status) in done:
        log.info("booking_step_skipped", booking_id=booking.id, status=booking.status)
        return None
    return booking


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
    """The meeting on the main host's calendar, every host and guest invited, Meet link when asked."""
    booking = _load(step, ports)
    if booking is None:
        return None
    if ports.calendar is not None and booking.calendar_event_id is None:
        created = ports.calendar.create_event(calendar_event(booking, ports))
        ports.bookings.record_calendar_event(
            booking.id, BookingStatus.CALENDAR_CREATED.value, ports.clock(), event_id=created.event_id,
            meet_link=created.meet_link, host_id=booking.host_id)
    else:
        ports.bookings.set_status(booking.id, BookingStatus.CALENDAR_CREATED.value, ports.clock())
    return _next(step, ports)


def _utc(value: object) -> str:
    return value.strftime(SALESFORCE_DATETIME)  # type: ignore[attr-defined]


def event_fields(booking: BookingRow, ports: BookingPorts, subject_prefix: str = "") -> dict[str, object]:
    """The Salesforce Event of a booking: on the record, owned by the main host, at the booking's time."""
    relation = _config(booking, ports).booking.for_object(booking.object_type).relation_field(booking.object_type)
    return {
        "Subject": (subject_prefix + _subject(booking, ports))[:255], "StartDateTime": _utc(booking.starts_at),
        "EndDateTime": _utc(booking.ends_at), "OwnerId": booking.host_id, relation: booking.record_id,
        "Location": booking.meet_link or "", "Description": f"Booked with Baton (booking {booking.id})",
    }


def upsert_salesforce_event(step: BookingStep, ports: BookingPorts) -> BookingStep | None:
    """The Salesforce Event on the record (WhoId for people, WhatId otherwise), upserted on the booking id."""
    booking = _load(step, ports)
    if booking is None:
        return None
    status = BookingStatus.EVENT_CREATED.value
    if ports.salesforce_events is not None:
        event_id = ports.salesforce_events.upsert_event(booking.id, event_fields(booking, ports))
        ports.bookings.record_salesforce_event(booking.id, status, event_id, ports.clock())
    else:
        ports.bookings.set_status(booking.id, status, ports.clock())
    return _next(step, ports)


def _owner_log(booking: BookingRow, ports: BookingPorts, routing_id: str, object_type: str, record_id: str,
               reasons: list[str]) -> AssignmentLog:
    now = ports.clock()
    return AssignmentLog(
        routing_id=routing_id, record_id=record_id, object_type=object_type, outcome=Outcome.ASSIGNED,
        owner_id=booking.host_id, team=booking.pool, method="booking", reasons=reasons,
        config_version=booking.request.get("config_version"), source=Source.API.value,
        source_event_id=f"booking:{booking.id}", event_at=booking.created_at, decided_at=now,
    )


def owner_logs(booking: BookingRow, ports: BookingPorts, moved: str = "") -> list[AssignmentLog]:
    """The owner changes a booking makes: the record's owner field, and related records' owners. ``moved``
    (a reassigned meeting's new host and time) gives the new host's decisions their own routing ids."""
    settings = _config(booking, ports).booking.for_object(booking.object_type)
    reason = f"booked {booking.booking_type} at {booking.starts_at.isoformat()} (booking {booking.id})"
    if moved:
        reason = f"meeting reassigned to {booking.host_id} (booking {booking.id})"
    base = booking_id_for(f"{booking.id}:{moved}") if moved else booking.id
    logs: list[AssignmentLog] = []
    if settings.owner_field == OWNER_FIELD:
        logs.append(_owner_log(booking, ports, base, booking.object_type, booking.record_id, [reason]))
    fields = booking.request.get("record_fields", {})
    for update in settings.related_owner_updates:
        related_id = fields.get(update.lookup_field)
        if related_id and update.owner_field == OWNER_FIELD:
            related_type = "Account" if "Account" in update.lookup_field else update.lookup_field.removesuffix("Id")
            logs.append(_owner_log(booking, ports, booking_id_for(f"{base}:{update.lookup_field}"),
                                   related_type, str(related_id), [f"{reason} via {update.lookup_field}"]))
    return logs


def store_owner_logs(logs: list[AssignmentLog], ports: BookingPorts) -> list[AssignmentLog]:
    """Decisions, record states and outbox rows of owner changes not stored before, in one transaction;
    returns the new ones."""
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
            OwnerWrite(entry.routing_id, entry.object_type, entry.record_id, entry.owner_id, "realtime", now)
            for entry in new])
    return new


def assign_owner(step: BookingStep, ports: BookingPorts) -> BookingStep | None:
    """The main host becomes the record's owner: decision, record state and outbox row in one transaction
    (the outbox flusher writes it to Salesforce, as for routed records). Run again on a confirmed booking
    (its next message was not sent), it stores nothing new and hands on again."""
    booking = _load(step, ports, FINAL_STATUSES - {BookingStatus.CONFIRMED})
    if booking is None:
        return None
    store_owner_logs(owner_logs(booking, ports), ports)
    now = ports.clock()
    if booking.status != BookingStatus.CONFIRMED.value:
        ports.bookings.set_status(booking.id, BookingStatus.CONFIRMED.value, now)
    return _next(step, ports)


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


def give_up(booking_id: str, reason: str, ports: BookingPorts) -> None:
    """A booking that finally failed: cancel its calendar event, delete its Salesforce Event, release its
    reserved time and mark it failed with the reason. Deletes go by the deterministic ids, so what a
    half-done step created goes too; "already gone" is fine for both."""
    bookings = ports.bookings
    booking = bookings.get(booking_id)
    if booking is None or BookingStatus(booking.status) in FINAL_STATUSES:
        return
    if ports.salesforce_events is not None:  # by external id: one created by a half-done step goes too
        ports.salesforce_events.delete_event(booking.id)
    if ports.calendar is not None:
        organizer = host_of(booking, ports, booking.host_id).email
        if organizer:
            ports.calendar.cancel_event(organizer, calendar_event_id(booking.id))
    bookings.release(booking.id, ports.clock(), BookingStatus.FAILED.value, reason[:4000])
    log.error("booking_failed", booking_id=booking.id, reason=reason)
    failed = bookings.get(booking.id)
    try:  # the failure is stored and the stage message dead-lettered: the stream copy must not turn that into a retry
        if failed is not None:
            ports.sink.publish_entries(booking_entries([booking_log(failed)]))
    except Exception as exc:  # noqa: BLE001
        log.warning("booking_log_not_streamed", booking_id=booking.id, error=f"{type(exc).__name__}: {exc}")
