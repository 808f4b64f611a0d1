"""The outcome of a selection and why each other candidate was not chosen.

Reasons are gathered cheaply while walking the turn order (an index and a reason code per member
walked past) and turned into text only when someone reads ``skipped`` or ``skip_summary``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from routing.availability import Unavailable
from routing.selection.caps import CapHit
from routing.selection.roster import ZERO_WEIGHT, FilterCheck, Roster

SUMMARY_FIRST_COUNT = 5
SMALL_TEAM_SIZE = 25


class SkipReason(StrEnum):
    """Why a candidate was passed over, beyond availability (see ``Unavailable``)."""

    MISSING_SKILL = "missing skill"
    MEMBER_FILTER = "member filter"
    CAP_REACHED = "cap reached"
    ZERO_WEIGHT = ZERO_WEIGHT
    NOT_NEXT_IN_TURN = "not next in turn"


TIME_BOUND_REASONS = frozenset(
    {
        Unavailable.OUT_OF_OFFICE.value,
        Unavailable.HOLIDAY.value,
        Unavailable.OUT_OF_SHIFT.value,
        Unavailable.TEAM_CLOSED.value,
        Unavailable.OUTSIDE_TEAM_HOURS.value,
        SkipReason.CAP_REACHED.value,
    }
)

Skip = tuple[int, str, Any]  # member index, reason code, detail (text or the object behind it)


@dataclass(frozen=True)
class SkippedCandidate:
    member_id: str
    reason: str
    code: str
    name: str = ""


class Explanation:
    """Raw skip facts of one decision, described on demand."""

    def __init__(
        self,
        roster: Roster,
        walked: list[Skip],
        *,
        not_next: Callable[[], Iterator[int]] | None = None,
        required_skills: frozenset[str] = frozenset(),
        next_available: Callable[[], datetime | None] | None = None,
    ):
        self.roster = roster
        self.walked = walked
        self.not_next = not_next
        self.required_skills = required_skills
        self.next_available = next_available

    def describe(self, skip: Skip) -> str:
        index, code, detail = skip
        if isinstance(detail, str):
            return detail
        if isinstance(detail, CapHit):
            return detail.describe()
        if isinstance(detail, FilterCheck):
            have = detail.values[index]
            wanted = " or ".join(repr(value) for value in sorted(detail.accepted)) or "(none)"
            return f"member filter: {detail.attribute} is {have!r}, needs {wanted}"
        if code == SkipReason.MISSING_SKILL:
            missing = self.roster.missing_skills(index, self.required_skills)
            return f"missing skill: {', '.join(missing)}"
        return code

    def skips(self, *, with_not_next: bool) -> Iterator[Skip]:
        yield from self.walked
        if with_not_next and self.not_next is not None:
            for index in self.not_next():
                yield (index, SkipReason.NOT_NEXT_IN_TURN.value, SkipReason.NOT_NEXT_IN_TURN.value)

    def skipped(self) -> list[SkippedCandidate]:
        small = len(self.roster.ids) <= SMALL_TEAM_SIZE
        return [
            SkippedCandidate(
                self.roster.ids[skip[0]],
                self.describe(skip),
                skip[1],
                self.roster.members[skip[0]].name,
            )
            for skip in self.skips(with_not_next=small)
        ]

    def summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for index, code, _ in self.skips(with_not_next=True):
            entry = out.setdefault(code, {"count": 0, "first": []})
            entry["count"] += 1
            if len(entry["first"]) < SUMMARY_FIRST_COUNT:
                entry["first"].append(self.roster.labels[index])
        return out


@dataclass(frozen=True)
class Selection:
    """The outcome: an owner, or none (``held``) with every reason; explanations are lazy.

    ``skipped`` lists the candidates walked past before the owner (all of them when held, plus
    "not next in turn" members for small teams); ``skip_summary`` counts every candidate by
    reason with the first few names; ``next_available_at`` (held only) is when to look again.
    """

    team: str
    method: str
    owner_id: str | None
    reasons: list[str] = field(default_factory=list)
    explanation: Explanation | None = field(default=None, repr=False, compare=False)

    @property
    def held(self) -> bool:
        return self.owner_id is None

    @cached_property
    def skipped(self) -> list[SkippedCandidate]:
        return self.explanation.skipped() if self.explanation else []

    @cached_property
    def skip_summary(self) -> dict[str, dict[str, Any]]:
        return self.explanation.summary() if self.explanation else {}

    @cached_property
    def next_available_at(self) -> datetime | None:
        if not self.held or self.explanation is None or self.explanation.next_available is None:
            return None
        return self.explanation.next_available()

    def skip_counts(self) -> dict[str, int]:
        return {reason: entry["count"] for reason, entry in self.skip_summary.items()}
