"""A held record's lifecycle, declared once. The assign stage holds a record nobody can take now (``held``, with
when to look again). The scheduler leases each due hold to a re-check and sends it to the assign stage
(``rechecking``); a lease that ran out, or a change that frees capacity, leases it again (rechecking ->
rechecking: the version tells the two leases apart, so only one round sends it). The re-check holds it again
(``held``, its next look set) or decides it (``released``: the row goes). A second re-check of the same hold
finds it held by the first: it does not hold it again, but may still release it.

A record of a team using the pull method waits in the team's queue instead (``queued``): the scheduler never
re-checks it; a member's pull decides it (``released``). A re-check may queue a held record (rechecking ->
queued: a delay node's wait ended and the graph leads on to a pull team). A delayed record is a hold like any
other, re-checked when its wait ends."""

from __future__ import annotations

from enum import StrEnum

from routing.lifecycles.machine import StateMachine, table


class HoldStatus(StrEnum):
    HELD = "held"
    RECHECKING = "rechecking"
    RELEASED = "released"
    QUEUED = "queued"


H = HoldStatus

HOLD: StateMachine[HoldStatus] = StateMachine("hold", table([
    (H.HELD, [H.RECHECKING, H.RELEASED]),
    (H.RECHECKING, [H.RECHECKING, H.HELD, H.QUEUED, H.RELEASED]),
    (H.QUEUED, [H.RELEASED]),
    (H.RELEASED, []),
]), initial=H.HELD)

WAITING_FOR_RECHECK = frozenset({H.HELD, H.RECHECKING})  # the statuses the scheduler re-checks
