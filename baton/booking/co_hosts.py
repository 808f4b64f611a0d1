"""A co-host who declines a booked meeting (read back from their calendar): their reserved time is released and
they leave the booking, in one transaction. When they were chosen from one of the booking's ``extra_pools``
and that pool says ``co_host_declines: replace`` (the default), the pool's member with the fewest meetings who
is free at the meeting's time, by the same checks as at booking (calendar free/busy, working hours and notice,
absences, reservations, the pool's caps), takes their place in that transaction and hosts for the pool. With nobody free, with ``release``, or for a
co-host named in the request (no pool to choose from), the booking keeps its time without them (logged as
``booking_co_host_released``). The decliner stays on the calendar event as declined; a replacement is invited
by the sync that follows.
"""

from __future__ import annotations

import structlog

from baton.booking.lifecycle import replan
from baton.booking.planning import BookingProblems, group_cap_limits
from baton.booking.ports import BookingPorts
from baton.booking.reserve import group_hosts_at
from kernel.ports.bookings import BookingRepository, BookingRow, CapReached, Hold, SlotTaken
from routing.booking.config import PoolSettings
from routing.config import OrgConfig

log = structlog.get_logger(__name__)
REPLACE = "replace"


def co_host_declined(booking_id: str, host_id: str, reason: str, ports: BookingPorts) -> str | None:
    """Releases (or replaces) the co-host ``host_id`` of the booking; returns who took their place, if anyone.
    A co-host no longer on the booking changes nothing."""
    bookings = ports.bookings
    booking = bookings.get(booking_id)
    if booking is None or host_id not in booking.co_host_ids:
        return None
    pool = _chosen_from(booking, host_id, ports.configs.current()[1])
    if pool is None:
        why = "named in the request, not chosen from a pool"
    elif pool.co_host_declines != REPLACE:
        why = f"pool {pool.team} says co_host_declines: {pool.co_host_declines}"
    else:
        try:
            replacement = _replace(booking, host_id, pool, bookings, ports)
        except BookingProblems as exc:
            replacement, why = None, f"the booking cannot be planned again ({exc})"
        else:
            why = f"nobody in {pool.team} is free then"
        if replacement is not None:
            log.info("booking_co_host_replaced", booking_id=booking.id, co_host_id=host_id,
                     replacement_id=replacement, pool=pool.team, reason=reason)
            return replacement
    bookings.replace_co_host(booking.id, host_id, None, ports.clock())
    log.warning("booking_co_host_released", booking_id=booking.id, co_host_id=host_id, reason=reason,
                not_replaced=why)
    return None


def _chosen_from(booking: BookingRow, host_id: str, config: OrgConfig) -> PoolSettings | None:
    """The extra pool of the booking its co-host was chosen from; None for a co-host named in the request."""
    if host_id in booking.request.get("co_hosts", []):
        return None
    for team in config.teams:
        if team.name in booking.request.get("extra_pools", []) and team.member(host_id) is not None:
            return next((pool for pool in config.booking.pools if pool.team == team.name), None)
    return None


def _replace(booking: BookingRow, host_id: str, pool: PoolSettings, bookings: BookingRepository,
             ports: BookingPorts) -> str | None:
    """Tries the pool's free members, fewest meetings first, until one's time can be held."""
    now = ports.clock()
    staying = [host for host in booking.co_host_ids if host != host_id]
    request, plan = replan(booking, ports, bookings, now, co_hosts=staying, extra_pools=[pool.team])
    [free] = group_hosts_at(plan, request, booking.starts_at, now, ports.calendar, bookings, moving=booking)
    before, after = plan.buffers
    for candidate in (member for member in free if member not in {booking.host_id, host_id, *staying}):
        hold = Hold(candidate, booking.starts_at - before, booking.ends_at + after)
        caps = group_cap_limits(plan, [pool], {pool.team: candidate}, booking.starts_at)
        try:
            bookings.replace_co_host(booking.id, host_id, hold, now, pool=pool.team, caps=caps)
        except (SlotTaken, CapReached):
            continue
        return candidate
    return None
