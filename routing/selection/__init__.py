"""Owner selection: which member of a team gets a record now, and why the others did not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routing.selection.state import MemberState, TeamState
from routing.teams import Member, Team

__all__ = ["Selection", "SkippedCandidate", "TeamState", "MemberState", "select_owner"]


@dataclass(frozen=True)
class SkippedCandidate:
    member_id: str
    reason: str


@dataclass(frozen=True)
class Selection:
    """The outcome: an owner, or none (``held``) with every candidate's skip reason."""

    team: str
    method: str
    owner_id: str | None
    reasons: list[str] = field(default_factory=list)
    skipped: list[SkippedCandidate] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.owner_id is None


def _eligible(member: Member) -> str | None:
    if not member.active:
        return "inactive"
    return None


def select_owner(
    team: Team, state: TeamState, record: Mapping[str, Any], now: datetime
) -> tuple[Selection, TeamState]:
    """Round robin: the eligible member whose last turn is oldest; config order breaks ties."""
    skipped: list[SkippedCandidate] = []
    best: Member | None = None
    best_turn = 0
    for member in team.members:
        reason = _eligible(member)
        if reason:
            skipped.append(SkippedCandidate(member.id, reason))
            continue
        last_turn = state.member(member.id).last_turn
        if best is None or last_turn < best_turn:
            best, best_turn = member, last_turn
    if best is None:
        return Selection(team.name, team.method.value, None, ["no eligible member"], skipped), state
    chosen = state.member(best.id)
    new_state = state.model_copy(deep=True)
    new_state.members[best.id] = MemberState(
        assigned_total=chosen.assigned_total + 1, last_turn=state.turn
    )
    new_state.turn = state.turn + 1
    reasons = [f"round robin: next in turn (turn {state.turn})"]
    return Selection(team.name, team.method.value, best.id, reasons, skipped), new_state
