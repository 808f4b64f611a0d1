"""Turn order: the team's candidates sorted by whose turn it is, for each distribution method.

Every method is a sort key over member state (its entry's ``key`` in ``routing.methods``), so
picking is "walk the sorted keys, stop at the first member who may take the record":

- round robin: ``(last_turn, index)``, the member whose turn is oldest first;
- weighted: ``(virtual_pass, index)``, stride scheduling: each turn advances a member's pass by
  ``STRIDE_UNITS / weight``, so weight 2 comes up twice as often as weight 1;
- load balancing: ``(open_records, last_turn, index)``, fewest open records, then oldest turn;
- priority tiers: ``(tier, *inner key)``, tier 1 before tier 2, the tier's own method inside;
- calibration (a team's ``fairness.balance``, for round robin and weighted, tiers' too):
  ``(period_load, index)``, the fewest records plus credits for the weight this period first;
- counting meetings (``fairness.counts: meetings``, the same methods): ``(period_load, *method key)``,
  the fewest meetings (plus credits) for the weight this period first, the method's turn among equals.

The sorted list lives on the ``TeamState`` it describes and follows each change by removing and
re-inserting only the changed members' keys.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping

from routing.methods import METHODS, KeyFunction, Method, OrderKey, ordering, weighs_turns
from routing.selection.roster import Roster, counts_weights
from routing.selection.state import DEFAULT_MEMBER_STATE, MemberState, TeamState
from routing.teams import Team


def _period_load(index: int, state: MemberState) -> OrderKey:
    return (state.period_load, index)


def _meetings_first(inner: KeyFunction) -> KeyFunction:
    def by_meetings(index: int, state: MemberState) -> OrderKey:
        return (state.period_load, *inner(index, state))

    return by_meetings


def calibrated(team: Team, method: Method) -> bool:
    """Whether the team's calibration decides this method's order (load balancing keeps its own)."""
    return team.fairness.calibrated and ordering(team, method).balanced_by_period


def key_function(team: Team, method: Method) -> KeyFunction:
    own = ordering(team, method)
    if own.key is None:
        raise ValueError(f"method {method} has no turn order")
    inner = own.key
    if team.fairness.meetings and own.balanced_by_period:
        inner = _meetings_first(inner)
    elif calibrated(team, method):
        inner = _period_load
    if not METHODS[method].tiered:
        return inner
    tiers = [member.tier for member in team.members]

    def tiered(index: int, state: MemberState) -> OrderKey:
        return (tiers[index], *inner(index, state))

    return tiered


def uses_weights(team: Team, method: Method) -> bool:
    return calibrated(team, method) or weighs_turns(team, method)


class TurnOrder:
    """Sorted keys of the candidates of one method, plus who is owed backfill turns."""

    __slots__ = ("roster", "method", "key_of", "keys", "backlog")

    def __init__(
        self,
        roster: Roster,
        method: Method,
        key_of: KeyFunction,
        keys: list[OrderKey],
        backlog: frozenset[int],
    ):
        self.roster = roster
        self.method = method
        self.key_of = key_of
        self.keys = keys
        self.backlog = backlog

    @classmethod
    def build(
        cls,
        roster: Roster,
        method: Method,
        state: TeamState,
        key_of: KeyFunction | None = None,
        weighted: bool | None = None,
    ) -> TurnOrder:
        key_of = key_of or key_function(roster.team, method)
        weighted = uses_weights(roster.team, method) if weighted is None else weighted
        excluded = {index for index, _ in roster.excluded(weighted=weighted)}
        keys: list[OrderKey] = []
        backlog: set[int] = set()
        for index, member_id in enumerate(roster.ids):
            if index in excluded:
                continue
            member_state = state.member(member_id)
            keys.append(key_of(index, member_state))
            if member_state.missed_turns:
                backlog.add(index)
        keys.sort()
        return cls(roster, method, key_of, keys, frozenset(backlog))

    def updated(
        self, before: Mapping[str, MemberState], changes: Mapping[str, MemberState]
    ) -> TurnOrder:
        keys = list(self.keys)
        backlog = set(self.backlog)
        for member_id, new_state in changes.items():
            index = self.roster.find(member_id)
            if index is None or self.roster.ids[index] != member_id:
                continue
            old_key = self.key_of(index, before.get(member_id, DEFAULT_MEMBER_STATE))
            new_key = self.key_of(index, new_state)
            spot = bisect_left(keys, old_key)
            if spot == len(keys) or keys[spot] != old_key:
                continue  # not a candidate of this method
            if new_key != old_key:
                del keys[spot]
                insort(keys, new_key)
            if new_state.missed_turns:
                backlog.add(index)
            else:
                backlog.discard(index)
        return TurnOrder(self.roster, self.method, self.key_of, keys, frozenset(backlog))

    def group_of(self, key: OrderKey) -> int:
        """Members in one group compete for a turn: the tier for priority tiers, else everyone."""
        return key[0] if METHODS[self.method].tiered else 0


def turn_order(roster: Roster, method: Method, state: TeamState) -> TurnOrder:
    """The state's turn order for ``method``, built on first use and then carried along."""
    name = f"order:{method.value}"
    order = state.index(name)
    if order is None or order.roster is not roster:
        order = TurnOrder.build(roster, method, state)
        state.remember_index(name, order)
    return order


def period_order(roster: Roster, state: TeamState) -> TurnOrder:
    """Members by period load, least first: where the lead threshold finds the least-loaded."""
    order = state.index("order:period")
    if order is None or order.roster is not roster:
        weighted = counts_weights(roster.team)
        order = TurnOrder.build(roster, Method.ROUND_ROBIN, state, _period_load, weighted)
        state.remember_index("order:period", order)
    return order
