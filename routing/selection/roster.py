"""A team compiled once for fast selection: member tables plus memoised availability.

``roster_of(team)`` builds it on first use and keeps it on the (immutable) team object. The
availability memo is a cache of a pure function of (member, instant): each member's answer is kept
with the span of instants it holds for, so a thousand members cost one evaluation each per span
(usually hours), not one per decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from routing.availability import LocalClock, Unavailable, member_status, team_status
from routing.methods import weighs_turns
from routing.selection.caps import Limits, WindowKeys, limits_of, window_keys
from routing.teams import Member, MemberFilter, Team

STRIDE_UNITS = 720_720  # divisible by every weight from 1 to 16, so common strides are exact
SALESFORCE_SHORT_ID_LENGTH = 15
SALESFORCE_LONG_ID_LENGTH = 18
ZERO_WEIGHT = "zero weight"


@dataclass(slots=True)
class Snapshot:
    """A member's (or the team's) availability over ``[start, end)`` POSIX seconds."""

    start: float
    end: float
    reason: str | None  # an ``Unavailable`` value
    detail: str
    keys: WindowKeys = ("", "", "")


@dataclass(frozen=True, slots=True)
class FilterCheck:
    """One member filter resolved against a record: the accepted attribute values."""

    filter_index: int
    attribute: str
    values: list[str | None]
    accepted: frozenset[str]


def normalised(value: Any) -> str:
    return str(value).casefold()


def _until_ts(until: datetime | None) -> float:
    return math.inf if until is None else until.timestamp()


class Roster:
    def __init__(self, team: Team):
        self.team = team
        self.members: list[Member] = list(team.members)
        self.ids = [member.id for member in self.members]
        self.labels = [member.label for member in self.members]
        self.zones = [ZoneInfo(member.timezone) for member in self.members]
        self.position = self._positions()
        self.skill_bits: dict[str, int] = {}
        self.skill_sets = [frozenset(normalised(skill) for skill in m.skills) for m in self.members]
        self.skill_masks = [self._mask_of(member.skills, grow=True) for member in self.members]
        self.limits: list[Limits] = [
            limits_of(member.caps, team.member_caps) for member in self.members
        ]
        self.strides = [STRIDE_UNITS // m.weight if m.weight else 0 for m in self.members]
        self.fair_strides = fair_strides(team)
        self.attributes = {
            rule.attribute: [
                normalised(m.attributes[rule.attribute]) if rule.attribute in m.attributes else None
                for m in self.members
            ]
            for rule in team.member_filters
        }
        self.snapshots: list[Snapshot | None] = [None] * len(self.members)
        self._team_snapshot: Snapshot | None = None
        self._excluded: dict[bool, list[tuple[int, str]]] = {}

    def _positions(self) -> dict[str, int]:
        positions: dict[str, int] = {}
        for index, member_id in enumerate(self.ids):
            positions[member_id] = index
            if len(member_id) == SALESFORCE_LONG_ID_LENGTH:
                positions.setdefault(member_id[:SALESFORCE_SHORT_ID_LENGTH], index)
        return positions

    def find(self, user_id: str | None) -> int | None:
        """The member index of a Salesforce user id (15 or 18 characters), or None."""
        if not user_id:
            return None
        found = self.position.get(user_id)
        if found is None and len(user_id) == SALESFORCE_LONG_ID_LENGTH:
            found = self.position.get(user_id[:SALESFORCE_SHORT_ID_LENGTH])
        return found

    def _mask_of(self, skills: Iterable[str], *, grow: bool = False) -> int:
        mask = 0
        unknown = 0
        for skill in skills:
            key = normalised(skill)
            bit = self.skill_bits.get(key)
            if bit is None and grow:
                bit = self.skill_bits[key] = len(self.skill_bits)
            if bit is None:
                unknown = 1  # a skill no member has: nobody can cover it
                continue
            mask |= 1 << bit
        return mask | (unknown << len(self.skill_bits))

    def required_mask(self, skills: Iterable[str]) -> int:
        return self._mask_of(skills)

    def missing_skills(self, index: int, required: frozenset[str]) -> list[str]:
        """Required skills (already normalised) this member lacks, sorted."""
        return sorted(required - self.skill_sets[index])

    def excluded(self, *, weighted: bool) -> list[tuple[int, str]]:
        """Members no turn can reach: inactive ones, and weight 0 ones when weights count."""
        cached = self._excluded.get(weighted)
        if cached is None:
            cached = self._excluded[weighted] = self._unreachable(weighted)
        return cached

    def _unreachable(self, weighted: bool) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for index, member in enumerate(self.members):
            if not member.active:
                out.append((index, Unavailable.INACTIVE.value))
            elif weighted and member.weight == 0:
                out.append((index, ZERO_WEIGHT))
        return out

    def filter_checks(self, facts: Mapping[str, Any]) -> list[FilterCheck]:
        checks: list[FilterCheck] = []
        for index, rule in enumerate(self.team.member_filters):
            accepted = _accepted_values(rule, facts)
            if accepted is not None:
                checks.append(
                    FilterCheck(index, rule.attribute, self.attributes[rule.attribute], accepted)
                )
        return checks

    def snapshot(self, index: int, now: datetime, now_ts: float) -> Snapshot:
        """The member's own availability and cap windows at ``now`` (memoised per span)."""
        cached = self.snapshots[index]
        if cached is not None and cached.start <= now_ts < cached.end:
            return cached
        member = self.members[index]
        answer = member_status(member, now)
        clock = LocalClock(self.zones[index], now)
        end = min(_until_ts(answer.until), clock.next_midnight().timestamp())
        reason = answer.reason.value if answer.reason else None
        fresh = Snapshot(now_ts, end, reason, answer.detail, window_keys(clock.date))
        self.snapshots[index] = fresh
        return fresh

    def team_snapshot(self, now: datetime, now_ts: float) -> Snapshot:
        cached = self._team_snapshot
        if cached is not None and cached.start <= now_ts < cached.end:
            return cached
        answer = team_status(self.team, now)
        reason = answer.reason.value if answer.reason else None
        fresh = Snapshot(now_ts, _until_ts(answer.until), reason, answer.detail)
        self._team_snapshot = fresh
        return fresh


def _accepted_values(rule: MemberFilter, facts: Mapping[str, Any]) -> frozenset[str] | None:
    """Attribute values a member needs for this record; None when the filter does not apply."""
    if rule.one_of is not None:
        return frozenset(normalised(value) for value in rule.one_of)
    if rule.equals is not None:
        return frozenset({normalised(rule.equals)})
    value = facts.get(rule.equals_field or "")
    if value is None or value == "" or value == []:
        return None if rule.when_field_missing == "pass" else frozenset()
    values = value if isinstance(value, list | tuple | set | frozenset) else [value]
    return frozenset(normalised(item) for item in values)


def counts_weights(team: Team) -> bool:
    """Whether period loads are weighted: when the team calibrates or its method uses weights."""
    return team.fairness.calibrated or weighs_turns(team, team.method)


def fair_strides(team: Team) -> list[int]:
    """Load added per record, per member: ``STRIDE_UNITS / weight`` when loads are weighted (0 for
    weight 0: never a candidate), else ``STRIDE_UNITS``."""
    if not counts_weights(team):
        return [STRIDE_UNITS] * len(team.members)
    return [STRIDE_UNITS // member.weight if member.weight else 0 for member in team.members]


def roster_of(team: Team) -> Roster:
    """The compiled roster of ``team``, built once per team object (a copy builds its own)."""
    roster = team._compiled
    if roster is None or roster.team is not team:
        roster = Roster(team)
        team._compiled = roster
    return roster
