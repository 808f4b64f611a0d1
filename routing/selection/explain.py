"""The outcome of a selection and why each other candidate was not chosen.

Reasons are gathered cheaply while walking the turn order (an index and a reason code per member
walked past) and turned into text only when someone reads ``skipped`` or ``skip_summary``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from itertools import islice
from operator import itemgetter
from typing import Any

from routing.availability import Unavailable
from routing.selection.caps import CapHit
from routing.selection.period import LeadExcess
from routing.selection.roster import ZERO_WEIGHT, FilterCheck, Roster

SUMMARY_FIRST_COUNT = 5
SMALL_TEAM_SIZE = 25
SKIPPED_LIST_MAX = 50


class SkipReason(StrEnum):
    """Why a candidate was passed over, beyond availability (see ``Unavailable``)."""

    MISSING_SKILL = "missing skill"
    MEMBER_FILTER = "member filter"
    CAP_REACHED = "cap reached"
    ZERO_WEIGHT = ZERO_WEIGHT
    NOT_NEXT_IN_TURN = "not next in turn"
    LEAD_THRESHOLD = "lead threshold"


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

NOT_NEXT = SkipReason.NOT_NEXT_IN_TURN.value

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
        not_next_count: int = 0,
        required_skills: frozenset[str] = frozenset(),
        next_available: Callable[[], datetime | None] | None = None,
    ):
        self.roster = roster
        self.walked = walked
        self.not_next = not_next
        self.not_next_count = not_next_count
        self.required_skills = required_skills
        self.next_available = next_available
        self._missing_by_mask: dict[int, str] = {}
        self._by_member: dict[int, Skip] | None = None

    def describe(self, skip: Skip) -> str:
        index, code, detail = skip
        if isinstance(detail, str):
            return detail
        if isinstance(detail, CapHit | LeadExcess):
            return detail.describe()
        if isinstance(detail, FilterCheck):
            have = detail.values[index]
            wanted = " or ".join(repr(value) for value in sorted(detail.accepted)) or "(none)"
            return f"member filter: {detail.attribute} is {have!r}, needs {wanted}"
        if code == SkipReason.MISSING_SKILL:
            mask = self.roster.skill_masks[index]
            text = self._missing_by_mask.get(mask)
            if text is None:
                missing = self.roster.missing_skills(index, self.required_skills)
                text = self._missing_by_mask[mask] = f"missing skill: {', '.join(missing)}"
            return text
        return code

    def _not_next(self, most: int | None = None) -> Iterator[int]:
        if self.not_next is None or not self.not_next_count:
            return iter(())
        return islice(self.not_next(), most)

    def skipped(self) -> list[SkippedCandidate]:
        """One entry per candidate passed over, the first ``SKIPPED_LIST_MAX`` of them."""
        skips = self.walked[:SKIPPED_LIST_MAX]
        if len(self.roster.ids) <= SMALL_TEAM_SIZE:
            skips += [(index, NOT_NEXT, NOT_NEXT) for index in self._not_next()]
        return [
            SkippedCandidate(
                self.roster.ids[skip[0]],
                self.describe(skip),
                skip[1],
                self.roster.members[skip[0]].name,
            )
            for skip in skips
        ]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Counts per reason with the first few members under each; cheap for large teams."""
        counts = Counter(map(itemgetter(1), self.walked))
        out: dict[str, dict[str, Any]] = {
            code: {"count": count, "first": []} for code, count in counts.items()
        }
        unfilled = set(counts)
        for index, code, _ in self.walked:
            if not unfilled:
                break
            if code in unfilled:
                first = out[code]["first"]
                first.append(self.roster.labels[index])
                if len(first) == min(SUMMARY_FIRST_COUNT, counts[code]):
                    unfilled.discard(code)
        if self.not_next_count:
            first = [self.roster.labels[index] for index in self._not_next(SUMMARY_FIRST_COUNT)]
            out[NOT_NEXT] = {"count": self.not_next_count, "first": first}
        return out

    def why_not(self, index: int) -> str:
        """Why this member did not get the record: any member, however far down the list."""
        if self._by_member is None:
            self._by_member = {skip[0]: skip for skip in self.walked}
        skip = self._by_member.get(index)
        return self.describe(skip) if skip is not None else NOT_NEXT


@dataclass(frozen=True)
class Selection:
    """The outcome: an owner, or none (``held``) with every reason; explanations are lazy.

    ``skipped`` lists the candidates walked past before the owner (all of them when held, plus
    "not next in turn" members for small teams), at most ``SKIPPED_LIST_MAX``; ``skip_summary``
    counts every candidate by reason with the first few names; ``why_not(member_id)`` answers for
    any one member; ``next_available_at`` (held only) is when to look again.
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

    def why_not(self, member_id: str) -> str | None:
        """"Why X and not Y": the reason ``member_id`` was passed over (None for the owner)."""
        if member_id == self.owner_id:
            return None
        if self.explanation is None:
            return "not considered"
        index = self.explanation.roster.find(member_id)
        if index is None:
            return "not a member of the team"
        return self.explanation.why_not(index)
