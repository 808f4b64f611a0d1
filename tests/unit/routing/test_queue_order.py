"""A team's order for its waiting records: oldest first, by a field (either way, records without it last), or
by a score of condition rules (highest first); equal keys go oldest first. The config refuses half an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kernel.ports.holds import HeldRecord
from routing.queue_order import QueueOrder, in_queue_order

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def waiting(*facts: dict[str, Any]) -> tuple[list[HeldRecord], dict[str, dict[str, Any]]]:
    """Records r1, r2, ... queued a minute apart (r1 oldest), listed newest first, with their facts."""
    held = [HeldRecord(f"r{index}", "Lead", f"id{index}", "Queue", "", {}, NOW + timedelta(minutes=index), NOW)
            for index in range(1, len(facts) + 1)]
    return held[::-1], {f"r{index}": fact for index, fact in enumerate(facts, start=1)}


def order_of(order: dict[str, Any], *facts: dict[str, Any]) -> list[str]:
    held, by_id = waiting(*facts)
    return [record.routing_id for record in in_queue_order(QueueOrder.model_validate(order), held, by_id, NOW)]


def test_oldest_first_by_default() -> None:
    assert order_of({}, {}, {}, {}) == ["r1", "r2", "r3"]


def test_by_field_lowest_first_ties_oldest_first_and_records_without_it_last() -> None:
    facts = ({"Score": 5}, {}, {"Score": "2"}, {"Score": 5})
    assert order_of({"by": "field", "field": "Score"}, *facts) == ["r3", "r1", "r4", "r2"]
    assert order_of({"by": "field", "field": "Score", "direction": "descending"}, *facts) == ["r1", "r4", "r3", "r2"]


def test_by_field_orders_dates_and_text_too() -> None:
    dates = ({"Due": "2026-12-03"}, {"Due": "2026-12-01"}, {"Due": ""})
    assert order_of({"by": "field", "field": "Due"}, *dates) == ["r2", "r1", "r3"]
    assert order_of({"by": "field", "field": "Tier"}, {"Tier": "b"}, {"Tier": "A"}) == ["r2", "r1"]


def test_by_score_highest_first() -> None:
    order = {"by": "score", "score": [
        {"when": {"field": "Rating", "op": "equals", "value": "Hot"}, "points": 10},
        {"when": {"field": "Country", "op": "in", "value": ["US", "CA"]}, "points": 3},
    ]}
    facts = ({"Rating": "Cold", "Country": "US"}, {"Rating": "Hot"}, {}, {"Rating": "Hot", "Country": "CA"})
    assert order_of(order, *facts) == ["r4", "r2", "r1", "r3"]
    assert order_of({**order, "direction": "ascending"}, *facts) == ["r3", "r1", "r2", "r4"]


@pytest.mark.parametrize(("order", "message"), [
    ({"by": "field"}, "by field needs field"),
    ({"by": "score"}, "by score needs score"),
    ({"field": "Score"}, "field is only read with by: field"),
    ({"by": "sideways"}, "Input should be 'oldest', 'field' or 'score'"),
])
def test_an_incomplete_order_is_refused_naming_what_is_missing(order: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QueueOrder.model_validate(order)
