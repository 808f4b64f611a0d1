"""A booking's lifecycle, declared once: the reservation stores it ``reserved``; the chain's steps take it on to
``calendar_created``, ``event_created`` and ``confirmed``; a failure (``failed``) or a cancel (``cancelled``)
ends it anywhere in the chain, a cancel also after; a meeting that took place may turn out a ``no_show`` (also
one whose chain stopped on the way), which may still be cancelled. ``failed`` and ``cancelled`` are final.
"""

from __future__ import annotations

from enum import StrEnum

from routing.lifecycles.machine import StateMachine, table


class BookingStatus(StrEnum):
    REQUESTED = "requested"  # asked, not reserved yet (never stored: the reservation stores a booking reserved)
    RESERVED = "reserved"
    CALENDAR_CREATED = "calendar_created"
    EVENT_CREATED = "event_created"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


S = BookingStatus
ENDS = (S.FAILED, S.CANCELLED)  # what may end a booking still in its chain

BOOKING: StateMachine[BookingStatus] = StateMachine("booking", table([
    (S.REQUESTED, [S.RESERVED]),
    (S.RESERVED, [S.CALENDAR_CREATED, *ENDS, S.NO_SHOW]),
    (S.CALENDAR_CREATED, [S.EVENT_CREATED, *ENDS, S.NO_SHOW]),
    (S.EVENT_CREATED, [S.CONFIRMED, *ENDS, S.NO_SHOW]),
    (S.CONFIRMED, [S.CANCELLED, S.NO_SHOW]),
    (S.NO_SHOW, [S.CANCELLED]),
    (S.FAILED, []),
    (S.CANCELLED, []),
]), initial=S.REQUESTED)

# The chain's path: each step moves the booking one status on, in this order.
CHAIN_PATH = (S.RESERVED, S.CALENDAR_CREATED, S.EVENT_CREATED, S.CONFIRMED)
IN_CHAIN = frozenset(CHAIN_PATH[:-1])  # a step of the chain is still to run
FINAL_STATUSES = frozenset({S.CONFIRMED, S.FAILED, S.CANCELLED, S.NO_SHOW})  # the chain has nothing more to do
ENDED = BOOKING.final  # failed or cancelled: nothing of the booking may stay live


def chain_step_after(status: BookingStatus | str) -> BookingStatus | None:
    """The status the chain's next step moves a booking in ``status`` to; None when no step is left."""
    current = BookingStatus(status)
    if current not in IN_CHAIN:
        return None
    return CHAIN_PATH[CHAIN_PATH.index(current) + 1]
