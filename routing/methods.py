"""Distribution methods, one entry each: a new method is its enum value plus one ``MethodSpec``.

A method's entry says how it orders a team's candidates and which rules apply to it:

- ``key``: the sort key of one member (``(index, state) -> tuple``); the member whose key sorts
  first is next. The member's ``index`` is the key's last item, so equal keys never tie;
- ``weighted``: each turn advances a member's stride pass by ``STRIDE_UNITS / weight`` (weight 0
  members are never reached);
- ``turn_based``: members walked past because they are away or capped lose their turn (load
  balancing has no turns: fewest open records decide);
- ``balanced_by_period``: a team's calibration, or its counting of meetings, orders the
  candidates first (load balancing keeps its own order);
- ``tiered``: candidates are grouped by member tier, tier 1 first, and the team's ``tier_method``
  orders each tier;
- ``direct_rule``: a direct-owner method, the name of the team's rule (a ``DirectOwnerRule``
  field of ``Team``) that names the owner; ``candidate_owner``: the owner handed in by the caller
  (the matched record's owner) comes before the rule's field;
- ``queued``: nobody is picked: the record waits in the team's queue until a member pulls it
  (``baton pull``); a queued method is neither a tier method nor a fallback.

This module is imported by ``routing.teams``, so it imports nothing from the rest of ``routing``
at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from routing.selection.state import MemberState
    from routing.teams import Team

OrderKey = tuple[int, ...]
KeyFunction = Callable[[int, "MemberState"], OrderKey]


class Method(StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LOAD_BALANCING = "load_balancing"
    PRIORITY_TIERS = "priority_tiers"
    LOOKUP_OWNER = "lookup_owner"
    RELATED_OWNER = "related_owner"
    PULL = "pull"


def round_robin_key(index: int, state: MemberState) -> OrderKey:
    """The member whose turn is oldest first."""
    return (state.last_turn, index)


def weighted_key(index: int, state: MemberState) -> OrderKey:
    """Stride scheduling: the lowest pass first; weight 2 comes up twice as often as weight 1."""
    return (state.virtual_pass, index)


def load_balancing_key(index: int, state: MemberState) -> OrderKey:
    """Fewest open records first, then the oldest turn."""
    return (state.open_records, state.last_turn, index)


@dataclass(frozen=True, slots=True)
class MethodSpec:
    method: Method
    key: KeyFunction | None = None
    weighted: bool = False
    turn_based: bool = True
    balanced_by_period: bool = True
    tiered: bool = False
    direct_rule: str | None = None
    candidate_owner: bool = False
    queued: bool = False

    @property
    def direct(self) -> bool:
        """Whether the method names one owner (lookup or related owner) instead of distributing."""
        return self.direct_rule is not None

    @property
    def distributes(self) -> bool:
        return not self.direct


_SPECS = (
    MethodSpec(Method.ROUND_ROBIN, key=round_robin_key),
    MethodSpec(Method.WEIGHTED, key=weighted_key, weighted=True),
    MethodSpec(
        Method.LOAD_BALANCING, key=load_balancing_key, turn_based=False, balanced_by_period=False
    ),
    MethodSpec(Method.PRIORITY_TIERS, tiered=True),
    MethodSpec(Method.LOOKUP_OWNER, direct_rule="lookup_owner"),
    MethodSpec(Method.RELATED_OWNER, direct_rule="related_owner", candidate_owner=True),
    MethodSpec(Method.PULL, queued=True),
)
METHODS: dict[str, MethodSpec] = {spec.method: spec for spec in _SPECS}
if set(METHODS) != set(Method):
    raise RuntimeError(f"methods without a MethodSpec: {sorted(set(Method) - set(METHODS))}")

DISTRIBUTION_METHODS = frozenset(spec.method for spec in _SPECS if spec.distributes)
DIRECT_METHODS = frozenset(spec.method for spec in _SPECS if spec.direct)
TIER_METHOD_NAMES = tuple(
    spec.method.value for spec in _SPECS if spec.distributes and not spec.tiered and not spec.queued
)
FALLBACK_NAMES = (
    "team_method",
    *(spec.method.value for spec in _SPECS if spec.distributes and not spec.queued),
    "hold",
)
TierMethod = Literal[TIER_METHOD_NAMES]  # type: ignore[valid-type]
FallbackMethod = Literal[FALLBACK_NAMES]  # type: ignore[valid-type]


def ordering(team: Team, method: str) -> MethodSpec:
    """The method that orders the candidates: the team's tier method inside tiers, else ``method``."""
    spec = METHODS[method]
    return METHODS[team.tier_method] if spec.tiered else spec


def weighs_turns(team: Team, method: str) -> bool:
    """Whether ``method`` (the tier method inside tiers) gives turns by member weight."""
    return ordering(team, method).weighted
