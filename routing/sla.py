"""SLA checks (pure): was an assigned record actioned in time?

"Actioned" means: after Baton assigned the record, a newer change to it reached Baton (a change event,
an outbound message or any other routed event for the same record) that Baton itself did not make. Every
such event updates the record's latest state in the store, whether or not it routes the record again, so
a rep who edits the lead (status, a call logged on it, a field filled in, taking it over) stops the clock.
Baton's own owner write-back does not count. The check runs when the deadline comes; a record not
actioned by then is breached: it is reassigned through the router graph and the team lead is told.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from kernel.ports.holds import LatestActivity, SlaTimer
from routing.teams import Team


class Verdict(StrEnum):
    WAITING = "waiting"
    ACTIONED = "actioned"
    BREACHED = "breached"


def sla_due(team: Team, assigned_at: datetime) -> datetime | None:
    """When a record assigned at ``assigned_at`` must be actioned, or None when the team has no SLA."""
    if team.sla_minutes is None:
        return None
    return assigned_at + timedelta(minutes=team.sla_minutes)


def sla_verdict(timer: SlaTimer, latest: LatestActivity | None, now: datetime) -> Verdict:
    if latest is not None and latest.routing_id != timer.routing_id and not latest.by_baton \
            and latest.event_at > timer.assigned_at:
        return Verdict.ACTIONED
    if now >= timer.due_at:
        return Verdict.BREACHED
    return Verdict.WAITING
