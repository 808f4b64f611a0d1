"""Fairness figures of one team's distribution (pure).

Each member's target is their weighted share of the team's records (``records × weight / total weight``).
- ``max_vs_target`` / ``min_vs_target``: the largest and smallest count ÷ target (1.0 = exactly on target).
- ``cv``: coefficient of variation of count ÷ target (population standard deviation over the mean; 0 = every
  member exactly on target).
- ``gini``: Gini coefficient of the weight-normalised counts (count ÷ weight; 0 = perfectly even, towards 1 =
  one member takes everything).
Members with weight 0 have no target and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from statistics import fmean, pstdev


@dataclass(frozen=True)
class Fairness:
    records: int
    members: int
    max_vs_target: float
    min_vs_target: float
    cv: float
    gini: float


def gini(values: list[float]) -> float:
    if not values or not any(values):
        return 0.0
    ordered = sorted(values)
    n = len(ordered)
    weighted = sum((index + 1) * value for index, value in enumerate(ordered))
    return (2 * weighted) / (n * sum(ordered)) - (n + 1) / n


def team_fairness(counts: Mapping[str, int], weights: Mapping[str, int]) -> Fairness:
    """``counts`` by member id (members missing count 0); ``weights`` of every member of the team."""
    weighted = {member: weight for member, weight in weights.items() if weight > 0}
    records = sum(counts.get(member, 0) for member in weighted)
    if not weighted or records == 0:
        return Fairness(records, len(weighted), 0.0, 0.0, 0.0, 0.0)
    total_weight = sum(weighted.values())
    ratios = [counts.get(member, 0) / (records * weight / total_weight) for member, weight in weighted.items()]
    per_weight = [counts.get(member, 0) / weight for member, weight in weighted.items()]
    return Fairness(
        records=records,
        members=len(weighted),
        max_vs_target=round(max(ratios), 4),
        min_vs_target=round(min(ratios), 4),
        cv=round(pstdev(ratios) / fmean(ratios), 4),
        gini=round(gini(per_weight), 4),
    )
