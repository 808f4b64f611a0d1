"""Teams counting meetings: the meetings each member hosted this period are their period counts.

A team with ``fairness.counts: meetings`` counts no records: whoever reads state for a decision batch
asks the store how many meetings each member hosted in the team's current period (``meeting_window``:
booked in it, or taking place in it) and passes the counts in; ``with_meetings`` makes them the
members' ``period_count`` and moves each ``period_load`` by the change, in stride units, so
calibration credits carry over. The turn order then puts the fewest meetings (for the weight) first,
and the lead threshold measures meetings; a record assigned moves the turn on but adds to no count.

The assign stage reads the counts before it locks the team's row (as it reads everything else), so a
meeting booked in between counts from the next round on; as loads move by the difference from the
counts the state last saw, credits never drift whichever round saw which bookings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from routing.booking.fairness import reset_period
from routing.selection.roster import Roster
from routing.selection.state import MemberState, TeamState
from routing.teams import Team

MEETINGS_INDEX = "meetings"


@dataclass(frozen=True, slots=True)
class MeetingWindow:
    """Count the meetings whose booking time (``booked``) or start (``meeting_time``) is in ``[since, until)``."""

    since: datetime
    until: datetime
    by: str


def meeting_window(team: Team, now: datetime) -> MeetingWindow | None:
    """The span of the team's current period at ``now``, for a team counting meetings; else None."""
    fairness = team.fairness
    if not fairness.meetings or fairness.reset is None:
        return None
    _, span = reset_period(fairness.reset, now, team.timezone)
    return MeetingWindow(span.start, span.end, fairness.counted_by)


class _MeetingsCounted:
    """Marks a state whose members' period counts are these meeting counts, for one roster."""

    __slots__ = ("meetings", "roster")

    def __init__(self, roster: Roster, meetings: Mapping[str, int]):
        self.roster = roster
        self.meetings = meetings

    def updated(self, before: Mapping[str, MemberState], changes: Mapping[str, MemberState]) -> _MeetingsCounted:
        return self


def with_meetings(roster: Roster, state: TeamState, meetings: Mapping[str, int]) -> TeamState:
    """``state`` (already in the current period) with each member's period count set to the meetings they
    hosted (absent: none) and their load moved by the difference; unchanged when it already counts ``meetings``."""
    counted = state.index(MEETINGS_INDEX)
    if counted is not None and counted.meetings is meetings and counted.roster is roster:
        return state
    changes: dict[str, MemberState] = {}
    for member_id, stride in zip(roster.ids, roster.fair_strides, strict=True):
        current = state.member(member_id)
        hosted = meetings.get(member_id, 0)
        if hosted != current.period_count:
            load = current.period_load + (hosted - current.period_count) * stride
            changes[member_id] = current.model_copy(update={"period_count": hosted, "period_load": max(0, load)})
    new = state.changed(changes) if changes else state
    new.remember_index(MEETINGS_INDEX, _MeetingsCounted(roster, meetings))
    return new
