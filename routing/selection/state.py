"""Per-team selection state: what the store keeps (as JSON) between two decisions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MemberState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assigned_total: int = 0
    last_turn: int = Field(default=-1, description="team turn number of this member's last pick")


class TeamState(BaseModel):
    """Mutable between decisions only through ``select_owner``, which returns a new copy."""

    model_config = ConfigDict(extra="forbid")

    turn: int = 0
    members: dict[str, MemberState] = Field(default_factory=dict)

    def member(self, member_id: str) -> MemberState:
        return self.members.get(member_id) or MemberState()
