"""Reserve a booking's slot at once: pick the host, hold the time of every host, or name alternatives."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from adapters.calendar import Calendar
from baton.booking.planning import (
    BookingPlan,
    BookingProblems,
    cap_limits,
    check_scheduler,
    group_slots,
    plan_booking,
    plan_slots,
    schedules_for,
    schedules_over,
)
from baton.booking.ports import BookingPorts
from kernel.ports.bookings import (
    BookingExists,
    BookingRepository,
    BookingRow,
    CapReached,
    Hold,
    NewBooking,
    SlotTaken,
)
from messages.booking import BookingRequest, BookingStatus, booking_id_for
from routing.booking.pools import choose_host, meet_now, nearest_alternatives, pick_group_hosts
from routing.booking.slots import Interval, Slot
from routing.booking.window import booking_window_problems

log = structlog.get_logger(__name__)
ALTERNATIVES = 3
ALTERNATIVES_SPAN = timedelta(days=3)


class SlotUnavailable(Exception):
    """The time asked for is not free (any more); ``alternatives`` are the nearest free slots."""

    def __init__(self, start: datetime, reason: str, alternatives: Sequence[Slot]):
        self.start = start
        self.reason = reason
        self.alternatives = list(alternatives)
        super().__init__(reason)


class RequestIdTaken(Exception):
    """The ``request_id`` booked another scheduler's booking: a 409 that names nothing of that booking."""

    def __init__(self, request_id: str):
        super().__init__(f"request_id {request_id!r} is already used by another caller (another scheduler's "
                         "booking); choose a new request_id")


@dataclass(frozen=True)
class Reserved:
    booking: BookingRow
    created: bool  # False: the same request was booked before


def _same_scheduler(first: str, second: str) -> bool:
    return first[:15] == second[:15]  # an 18-character Salesforce id is the 15-character one plus a checksum


def _booked_before(existing: BookingRow, request: BookingRequest) -> Reserved:
    """The booking this ``request_id`` made before, when the same scheduler asks again (idempotency keys are
    scoped to the scheduler a request books as); another scheduler's key raises RequestIdTaken."""
    if not _same_scheduler(existing.scheduler_user_id, request.scheduler_user_id):
        log.warning("booking_request_id_of_another_scheduler", booking_id=existing.id,
                    scheduler_user_id=request.scheduler_user_id)
        raise RequestIdTaken(request.request_id or "")
    return Reserved(existing, False)


def window_problems(plan: BookingPlan, start: datetime, now: datetime) -> list[tuple[str, str]]:
    """The start's problems for the first candidate whose clock allows it; a pool needs only one."""
    problems: list[tuple[str, str]] = []
    for host_id in plan.hosts.main_candidates:
        found = booking_window_problems(plan.booking_type, start, now, plan.time_zone(host_id))
        if not found:
            return []
        problems = problems or found
    return problems


def alternatives(plan: BookingPlan, wanted: datetime, now: datetime, calendar: Calendar | None,
                 bookings: BookingRepository, member: str | None = None) -> list[Slot]:
    """The nearest free slots; for a manual pool's picked member, that member's own."""
    window = Interval(max(now, wanted - ALTERNATIVES_SPAN), wanted + ALTERNATIVES_SPAN)
    slots = plan_slots(plan, window, now, calendar, bookings)
    if member is not None:
        slots = [Slot(slot.start, slot.end, (member,)) for slot in slots if member in slot.host_ids]
    return nearest_alternatives(slots, wanted, ALTERNATIVES)


def free_hosts_at(plan: BookingPlan, request: BookingRequest, start: datetime, now: datetime,
                  calendar: Calendar | None, bookings: BookingRepository, moving: BookingRow | None = None) -> list[str]:
    """Main hosts free at ``start``, the preferred first (``moving``: a booking being moved, whose own
    reserved time does not count as busy)."""
    ignore = moving.id if moving is not None else None
    if request.meet_now:
        before, after = plan.buffers
        span = Interval(start - before, start + plan.meeting_length + after)
        schedules = schedules_over(plan, span, calendar, bookings, ignore)
        return meet_now(plan.booking_type, plan.hosts, schedules, start, plan.meeting_counts)
    window = Interval(start, start + plan.meeting_length)
    slot = next((slot for slot in plan_slots(plan, window, now, calendar, bookings, ignore) if slot.start == start),
                None)
    if slot is None:
        return []
    free = list(slot.host_ids)
    first = choose_host(plan.hosts, free, plan.meeting_counts)
    return [first, *(host for host in free if host != first)] if first else free


def group_hosts_at(plan: BookingPlan, request: BookingRequest, start: datetime, now: datetime,
                   calendar: Calendar | None, bookings: BookingRepository, moving: BookingRow | None = None
                   ) -> list[list[str]]:
    """Each extra pool's members free at ``start``, fewest meetings first."""
    if not plan.groups:
        return []
    ignore = moving.id if moving is not None else None
    window = Interval(start, start + plan.meeting_length)
    if request.meet_now:
        before, after = plan.buffers
        schedules = schedules_over(plan, Interval(start - before, window.end + after), calendar, bookings, ignore)
        return [meet_now(plan.booking_type, group.hosts, schedules, start, group.meeting_counts)
                for group in plan.groups]
    schedules = schedules_for(plan, window, now, calendar, bookings, ignore)
    found: list[list[str]] = []
    for slots in group_slots(plan, schedules, window, now):
        slot = next((slot for slot in slots if slot.start == start), None)
        found.append(list(slot.host_ids) if slot is not None else [])
    return found


def _row(request: BookingRequest, plan: BookingPlan, booking_id: str, host_id: str, start: datetime,
         now: datetime, group_hosts: Sequence[str] = ()) -> NewBooking:
    platform = request.meeting_platform or plan.booking_type.meeting_platform
    return NewBooking(
        id=booking_id, status=BookingStatus.RESERVED.value, booking_type=plan.booking_type.name,
        object_type=request.object_type, record_id=request.record_id,
        scheduler_user_id=request.scheduler_user_id, host_id=host_id,
        pool=plan.pool.team if plan.pool else None, co_host_ids=[*plan.hosts.co_hosts, *group_hosts],
        starts_at=start, ends_at=start + plan.meeting_length, guest_email=request.guest_email,
        invitees=list(request.invitees), platform=platform,
        request={**request.model_dump(mode="json"), "config_version": plan.config_version},
        created_at=now,
    )


def holds_for(plan: BookingPlan, host_id: str, start: datetime, group_hosts: Sequence[str] = ()) -> list[Hold]:
    before, after = plan.buffers
    end = start + plan.meeting_length
    return [Hold(host, start - before, end + after) for host in (host_id, *plan.hosts.co_hosts, *group_hosts)]


def _without(groups: Sequence[Sequence[str]], hosts: set[str]) -> list[list[str]]:
    return [[member for member in members if member not in hosts] for members in groups]


def _wanted_host(plan: BookingPlan, request: BookingRequest, free: list[str]) -> list[str]:
    """Manual pools book the member the scheduler picked; other modes try every free host in order."""
    if plan.hosts.mode != "manual" or request.pool_member_id is None:
        return free
    if request.pool_member_id in plan.skipped:
        raise BookingProblems([("pool_member_id", f"{request.pool_member_id}: {plan.skipped[request.pool_member_id]}")])
    if request.pool_member_id not in plan.hosts.main_candidates:
        raise BookingProblems([("pool_member_id", f"{request.pool_member_id} is not a member of the pool")])
    return [request.pool_member_id] if request.pool_member_id in free else []


def reserve(request: BookingRequest, ports: BookingPorts, bookings: BookingRepository, now: datetime) -> Reserved:
    """Stores the booking as reserved with one hold per host and co-host, in its own transaction.

    Raises BookingProblems (a 422: the request is wrong), BookingForbidden (a 403: the config's
    ``booking.schedulers`` do not allow it), SlotUnavailable (a 409: taken, with the
    nearest alternatives) or RequestIdTaken (a 409: another scheduler's ``request_id``). A pooled mode first tries the pool's other free members at that time.
    """
    booking_id = booking_id_for(request.request_id) if request.request_id else str(uuid.uuid4())
    existing = bookings.get(booking_id)
    if existing is not None:
        return _booked_before(existing, request)
    version, config = ports.configs.current()
    plan = plan_booking(version, config, ports.decisions, ports.reference_sync, bookings,
                        object_type=request.object_type, record_id=request.record_id,
                        record_fields=request.record_fields, host=request.host,
                        meeting_type=request.meeting_type, co_hosts=request.co_hosts, now=now,
                        extra_pools=request.extra_pools)
    check_scheduler(config, plan, request.scheduler_user_id, request.object_type)
    start = now.replace(microsecond=0) if request.meet_now else request.start
    assert start is not None
    if not request.meet_now:
        problems = window_problems(plan, start, now)
        if problems:
            raise BookingProblems(problems)
    calendar = ports.calendar
    refusals: list[str] = []
    groups = group_hosts_at(plan, request, start, now, calendar, bookings)
    hosts = _wanted_host(plan, request, free_hosts_at(plan, request, start, now, calendar, bookings))
    while hosts:
        host_id = hosts[0]
        picked = pick_group_hosts(host_id, groups) if plan.groups else []
        if picked is None:
            refusals.append(f"no free member of {', '.join(group.team for group in plan.groups)} besides {host_id}")
            hosts.pop(0)
            continue
        holds = holds_for(plan, host_id, start, picked)
        try:
            bookings.reserve(_row(request, plan, booking_id, host_id, start, now, picked), holds,
                             cap_limits(plan, host_id, start, picked), plan.all_credits, plan.group_hosts(picked))
        except CapReached as exc:
            log.info("booking_cap_reached", booking_id=booking_id, host_id=exc.host_id, reason=exc.reason)
            refusals.append(str(exc))
            if exc.host_id == host_id:
                hosts.pop(0)
            else:  # a member taken from an extra pool: another member of that pool may join this host
                groups = _without(groups, {exc.host_id})
            continue
        except SlotTaken as exc:
            log.info("booking_slot_taken", booking_id=booking_id, hosts=list(exc.host_ids), start=start.isoformat())
            if set(exc.host_ids) & set(plan.hosts.co_hosts):
                break
            if len(exc.host_ids) < len(holds):  # SQLite names the hosts taken (PostgreSQL names them all)
                groups = _without(groups, set(exc.host_ids))
            hosts.pop(0)
            continue
        except BookingExists:
            existing = bookings.get(booking_id)
            assert existing is not None
            return _booked_before(existing, request)
        booking = bookings.get(booking_id)
        assert booking is not None
        log.info("booking_reserved", booking_id=booking_id, host_id=host_id, start=start.isoformat(),
                 booking_type=plan.booking_type.name)
        return Reserved(booking, True)
    overtaken = bookings.get(booking_id)
    if overtaken is not None:  # another delivery of this request reserved since we looked: its slot is ours
        return _booked_before(overtaken, request)
    reason = "nobody in the pool is free now" if request.meet_now else f"{start.isoformat()} is not free"
    if refusals:
        reason += f" ({'; '.join(refusals)})"
    member = request.pool_member_id if plan.hosts.mode == "manual" else None
    raise SlotUnavailable(start, reason, alternatives(plan, start, now, calendar, bookings, member))
