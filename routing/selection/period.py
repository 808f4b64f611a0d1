"""Fairness over time for record routing: period counts, calibration credits, the lead threshold.

A team with ``fairness`` options keeps, per member, the records received in the current period
(``period_count``) and a *load*: records plus credits in stride units (``STRIDE_UNITS / weight``,
so equal loads mean equal shares of the weighted target). With ``balance: calibration`` the turn
order is the load: the least-loaded eligible member gets the record, and a member passed over
while away (out of office, holiday, toggled off, out of shift, capped) is lifted to the load of
the member chosen instead plus the turn they lose: they are credited with the share they would have
had, so they come back level instead of catching up in a burst. A member new to the period (added mid-period, or
first seen) starts at the team's ``level``, the load of the last pick.

A member's credit, in records, is ``load / stride - period_count``; their weighted target is
``(all records + all credits) × weight / total weight``, which for every member eligible the whole
period stays within one record of what they received.

Periods are day, ISO week or calendar month on the team's own clock; they reset every count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from routing.selection.caps import window_keys
from routing.selection.roster import Roster, counts_weights, fair_strides
from routing.selection.state import MemberState, TeamState
from routing.teams import Fairness, Team

ALL_TIME = "all"
PERIOD_WINDOWS = {"day": 0, "week": 1, "month": 2}
LEAD_THRESHOLD = "lead threshold"


def period_key(fairness: Fairness, time_zone: str, now: datetime) -> str:
    """The current period's key on the team's clock: ``d2026-12-01``, ``w2026-W49``, ``m2026-12``."""
    if fairness.reset is None:
        return ALL_TIME
    local_day = now.astimezone(ZoneInfo(time_zone)).date()
    return window_keys(local_day)[PERIOD_WINDOWS[fairness.reset]]


class _PeriodReady:
    """Marks a state whose members are all counted in its period for one roster."""

    __slots__ = ("roster",)

    def __init__(self, roster: Roster):
        self.roster = roster

    def updated(self, before: Mapping[str, MemberState], changes: Mapping[str, MemberState]) -> _PeriodReady:
        return self


def entered_period(roster: Roster, state: TeamState, key: str) -> TeamState:
    """``state`` with every count reset when ``key`` starts a new period, and every member not yet
    counted in it entered (at the team's level when calibrating, else at zero)."""
    ready = state.index("period")
    if state.period == key and ready is not None and ready.roster is roster:
        return state
    if state.period != key:
        fresh = MemberState(in_period=True)
        members = {
            member_id: current.model_copy(update={"in_period": True, "period_count": 0, "period_load": 0})
            for member_id, current in state.members.items()
        }
        for member_id in roster.ids:
            members.setdefault(member_id, fresh)
        new = state.model_copy(update={"members": members, "period": key, "level": 0})
    else:
        start = state.level if roster.team.fairness.calibrated else 0
        changes = {
            member_id: state.member(member_id).model_copy(
                update={"in_period": True, "period_count": 0, "period_load": start}
            )
            for member_id in roster.ids
            if not state.member(member_id).in_period
        }
        new = state.changed(changes) if changes else state
    new.remember_index("period", _PeriodReady(roster))
    return new


CREATED_FIELD = "CreatedDate"


def created_at(value: object) -> datetime | None:
    """A record's CreatedDate as an aware time: ISO 8601 text (REST's ``+0000`` too) or epoch milliseconds
    (Pub/Sub API); None when absent or unreadable (the record then counts as assigned)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def counts_in_period(fairness: Fairness, time_zone: str, key: str, facts: Mapping[str, object]) -> bool:
    """Whether a record assigned now counts in the current period ``key``: always when counting by assignment;
    when counting by creation, unless its CreatedDate falls in an earlier period (a later one, clock skew,
    counts now)."""
    if fairness.count_by != "created" or fairness.reset is None:
        return True
    created = created_at(facts.get(CREATED_FIELD))
    if created is None:
        return True
    return period_key(fairness, time_zone, created) >= key  # zero-padded keys sort by time


@dataclass(frozen=True, slots=True)
class LeadExcess:
    """Why a member is not offered: ``lead`` load units (``stride`` a record, or meeting, of theirs) ahead of
    the least-loaded eligible member."""

    lead: int
    stride: int
    threshold: int
    counted: str = "records"

    @property
    def ahead(self) -> Fraction:
        """Records (or meetings, ``counted``) of their own ahead."""
        return Fraction(self.lead, self.stride)

    def describe(self) -> str:
        return (
            f"lead threshold: {float(self.ahead):g} {self.counted} ahead of the least-loaded eligible member "
            f"(threshold {self.threshold})"
        )


def lead_excess(load: int, floor: int, stride: int, threshold: int, counted: str = "records") -> LeadExcess | None:
    """The excess when a member at ``load`` is more than ``threshold`` of their own records (or meetings,
    ``counted``) ahead of the least-loaded eligible member (at ``floor``), else None."""
    if not stride or load - floor <= threshold * stride:
        return None
    return LeadExcess(load - floor, stride, threshold, counted)


def lead_bound(load: int, stride: int, threshold: int) -> int | None:
    """The floor below which a member at ``load`` is too far ahead (``lead_excess`` is not None
    exactly when ``floor < lead_bound(...)``); None when nothing is (weight 0)."""
    return load - threshold * stride if stride else None


@dataclass(frozen=True, slots=True)
class PeriodStanding:
    """One member's standing in the period: records received, credits, and weighted target."""

    member_id: str
    count: int
    credit: Fraction
    target: Fraction


def standings(team: Team, state: TeamState) -> list[PeriodStanding]:
    """Every member's period count, credit and target (``(records + credits) × weight ÷ total weight``
    over the members with a weight and a load)."""
    strides = fair_strides(team)
    weighted = counts_weights(team)
    effective: dict[str, Fraction] = {}
    weights: dict[str, int] = {}
    for member, stride in zip(team.members, strides, strict=True):
        current = state.member(member.id)
        if not stride or not current.in_period:
            continue
        effective[member.id] = Fraction(current.period_load, stride)
        weights[member.id] = member.weight if weighted else 1
    total = sum(effective.values(), Fraction(0))
    weight_sum = sum(weights.values())
    out: list[PeriodStanding] = []
    for member_id, load in effective.items():
        count = state.member(member_id).period_count
        target = total * weights[member_id] / weight_sum if weight_sum else Fraction(0)
        out.append(PeriodStanding(member_id, count, load - count, target))
    return out
