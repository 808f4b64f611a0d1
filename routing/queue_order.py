"""A team's order for its waiting records (the pull queue, and held records re-checked together): oldest first
by default, or by a record field, or by a score (points for each condition of the condition language that
holds: ``routing.conditions``).

The highest-priority record comes first: for ``field`` the smallest value (``direction: ascending``, the
default) or the largest (``descending``); for ``score`` the largest score (``descending``, its default) or the
smallest. Records without the field's value come last; equal keys go oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from kernel.ports.holds import HeldRecord
from routing.base import Strict
from routing.conditions import Condition, as_number, as_temporal, evaluate


class ScoreRule(Strict):
    """``points`` added to a record's score when ``when`` holds."""

    when: Condition
    points: float


class QueueOrder(Strict):
    """How a team's waiting records are ordered: ``oldest`` (first waited, first out), ``field`` (a fact key's
    value) or ``score`` (the sum of the points of the rules that hold)."""

    by: Literal["oldest", "field", "score"] = "oldest"
    field: str | None = Field(default=None, min_length=1, description="the fact key, for by: field")
    score: list[ScoreRule] = Field(default_factory=list, description="the rules, for by: score")
    direction: Literal["ascending", "descending"] | None = Field(
        default=None, description="field: ascending by default; score: descending (highest score first)"
    )

    @model_validator(mode="after")
    def _complete(self) -> QueueOrder:
        if self.by == "field" and self.field is None:
            raise ValueError("order: by field needs field (the fact key to order by)")
        if self.by == "score" and not self.score:
            raise ValueError("order: by score needs score (at least one rule: when, points)")
        if self.by != "field" and self.field is not None:
            raise ValueError(f"order: field is only read with by: field (by is {self.by})")
        if self.by != "score" and self.score:
            raise ValueError(f"order: score is only read with by: score (by is {self.by})")
        return self

    @property
    def descending(self) -> bool:
        return (self.direction or ("descending" if self.by == "score" else "ascending")) == "descending"

    def describe(self) -> str:
        if self.by == "oldest":
            return "oldest first"
        what = self.field if self.by == "field" else "score"
        return f"by {what}, {'highest' if self.descending else 'lowest'} first"


def score(order: QueueOrder, facts: Mapping[str, Any], now: datetime) -> float:
    """The sum of the points of ``order``'s score rules that hold for ``facts``."""
    return sum(rule.points for rule in order.score if evaluate(rule.when, facts, now))


def _value(order: QueueOrder, facts: Mapping[str, Any], now: datetime) -> tuple[int, Any]:
    """(kind, value): numbers before dates before text, so mixed values still compare; None when absent."""
    if order.by == "score":
        return (0, score(order, facts, now))
    raw = facts.get(str(order.field))
    number = as_number(raw)
    if number is not None:
        return (0, number)
    moment = as_temporal(raw)
    if moment is not None:
        return (1, moment.isoformat() if isinstance(moment, datetime | date) else str(moment))
    if raw is None or raw == "":
        return (9, None)
    return (2, str(raw).casefold())


def in_queue_order(order: QueueOrder, waiting: Sequence[HeldRecord], facts: Mapping[str, Mapping[str, Any]],
                   now: datetime) -> list[HeldRecord]:
    """``waiting`` highest priority first (``facts`` by routing id); ties and ``oldest`` by when each began
    waiting, then routing id."""
    by_id = {held.routing_id: held for held in waiting}
    since = {held.routing_id: held.held_at for held in waiting}
    return [by_id[routing_id] for routing_id in ordered_ids(order, since, facts, now)]


def ordered_ids(order: QueueOrder, since: Mapping[str, datetime], facts: Mapping[str, Mapping[str, Any]],
                now: datetime) -> list[str]:
    """The routing ids of ``since`` (routing id -> when it began waiting) highest priority first."""
    by_age = sorted(since, key=lambda routing_id: (since[routing_id], routing_id))
    if order.by == "oldest":
        return by_age
    valued = [(_value(order, facts.get(routing_id, {}), now), routing_id) for routing_id in by_age]
    present = [(value, routing_id) for value, routing_id in valued if value[1] is not None]
    absent = [routing_id for value, routing_id in valued if value[1] is None]
    present.sort(key=lambda pair: pair[0], reverse=order.descending)  # stable: equal keys stay oldest first
    return [routing_id for _, routing_id in present] + absent
