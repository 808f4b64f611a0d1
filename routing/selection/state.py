"""Per-team selection state: what the store keeps (as JSON) between two decisions.

States are values: every change returns a new ``TeamState`` sharing the untouched members with
the old one. ``model_dump(mode="json", exclude_defaults=True)`` keeps the blob small; a state
loaded back with ``model_validate`` behaves the same (its turn-order index is rebuilt on first use).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class MemberState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    assigned_total: int = 0
    last_turn: int = Field(default=-1, description="team turn number of this member's last turn")
    virtual_pass: int = Field(default=0, description="weighted round robin: stride position")
    open_records: int = Field(default=0, ge=0)
    missed_turns: int = Field(default=0, ge=0, description="backfill credit still owed")
    counts: dict[str, int] = Field(
        default_factory=dict, description="cap window key (member-local) -> records received"
    )
    in_period: bool = Field(default=False, description="fairness: counted in the current period")
    period_count: int = Field(default=0, ge=0, description="fairness: records received this period")
    period_load: int = Field(
        default=0,
        ge=0,
        description="fairness: records plus credits this period, in stride units (STRIDE / weight)",
    )


DEFAULT_MEMBER_STATE = MemberState()


class TurnIndex(Protocol):
    """A derived index over a state (the turn order) that can follow member changes."""

    def updated(
        self, before: Mapping[str, MemberState], changes: Mapping[str, MemberState]
    ) -> TurnIndex | None: ...


class TeamState(BaseModel):
    """Changed between decisions only through pure functions that return a new copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn: int = 0
    virtual_time: int = Field(default=0, description="weighted round robin: the last pick's pass")
    members: dict[str, MemberState] = Field(default_factory=dict)
    period: str = Field(default="", description="fairness: key of the period being counted")
    level: int = Field(
        default=0, description="fairness calibration: load of the last least-loaded pick (joiners start here)"
    )
    # Derived indexes (e.g. turn orders) and the members mapping they describe: a copy made any
    # other way than ``changed`` (model_copy with new members, model_validate) starts without.
    _indexes: tuple[Mapping[str, MemberState], dict[str, TurnIndex]] | None = PrivateAttr(
        default=None
    )

    def member(self, member_id: str) -> MemberState:
        return self.members.get(member_id, DEFAULT_MEMBER_STATE)

    def __eq__(self, other: object) -> bool:
        """Equal values are equal states, whatever indexes either has cached."""
        if not isinstance(other, TeamState):
            return NotImplemented
        return (self.turn, self.virtual_time, self.period, self.level, self.members) == (
            other.turn,
            other.virtual_time,
            other.period,
            other.level,
            other.members,
        )

    __hash__ = None  # type: ignore[assignment]

    def _current_indexes(self) -> dict[str, TurnIndex]:
        # read the private slot directly: pydantic's attribute fallback costs more than the lookup (hot path)
        private = self.__pydantic_private__
        indexes = private.get("_indexes") if private else None
        if indexes is None or indexes[0] is not self.__dict__["members"]:
            return {}
        return indexes[1]

    def index(self, name: str) -> Any:
        return self._current_indexes().get(name)

    def remember_index(self, name: str, index: TurnIndex) -> None:
        """Cache a derived index of this state's members (states are never mutated in place)."""
        self._indexes = (self.members, {**self._current_indexes(), name: index})

    def changed(
        self,
        changes: Mapping[str, MemberState],
        *,
        turn: int | None = None,
        virtual_time: int | None = None,
        level: int | None = None,
    ) -> TeamState:
        """A new state with ``changes`` applied; cached indexes follow the changes."""
        members = dict(self.members)
        members.update(changes)
        update: dict[str, Any] = {"members": members}
        if turn is not None:
            update["turn"] = turn
        if virtual_time is not None:
            update["virtual_time"] = virtual_time
        if level is not None:
            update["level"] = level
        new = self.model_copy(update=update)
        carried: dict[str, TurnIndex] = {}
        for name, index in self._current_indexes().items():
            follower = index.updated(self.members, changes)
            if follower is not None:
                carried[name] = follower
        new._indexes = (members, carried)
        return new


def _open_delta(state: TeamState, deltas: Mapping[str, int]) -> TeamState:
    changes: dict[str, MemberState] = {}
    for member_id, delta in deltas.items():
        if delta == 0:
            continue
        current = state.member(member_id)
        opened = max(0, current.open_records + delta)
        if opened != current.open_records:
            changes[member_id] = current.model_copy(update={"open_records": opened})
    return state.changed(changes) if changes else state


def record_opened(state: TeamState, owner_id: str) -> TeamState:
    """An open record now belongs to ``owner_id`` (load balancing counts it)."""
    return _open_delta(state, {owner_id: 1})


def record_closed(state: TeamState, owner_id: str) -> TeamState:
    """A record of ``owner_id`` was closed or converted (never below zero)."""
    return _open_delta(state, {owner_id: -1})


def owner_changed(
    state: TeamState, previous_owner_id: str | None, new_owner_id: str | None
) -> TeamState:
    """An open record moved from one owner to another (either may be outside the team)."""
    deltas: dict[str, int] = {}
    if previous_owner_id:
        deltas[previous_owner_id] = deltas.get(previous_owner_id, 0) - 1
    if new_owner_id:
        deltas[new_owner_id] = deltas.get(new_owner_id, 0) + 1
    return _open_delta(state, deltas)


def set_open_counts(state: TeamState, open_records: Mapping[str, int]) -> TeamState:
    """Replace open counts wholesale, e.g. after a nightly recount from Salesforce."""
    deltas = {
        member_id: count - state.member(member_id).open_records
        for member_id, count in open_records.items()
    }
    return _open_delta(state, deltas)
