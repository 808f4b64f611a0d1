"""The router graph's booking suggestion for a record it never routed, walked at booking time.

There is no event, so the graph's trigger is not asked. The facts are what the classify and territory
stages would find from the record's fields (the match stage reads reference data, so ``match.*`` facts
are absent and a match node takes its ``unmatched`` branch).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from routing.booking.suggest import GraphSuggestion
from routing.classify import classify
from routing.config import OrgConfig
from routing.facts import TERRITORY_KEY, facts_for
from routing.graph import booking_walk


def unrouted_facts(config: OrgConfig, fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The record's fields with derived values, classification stamps and tags, and its territory."""
    classified = classify(fields, config.classification, now)
    facts = facts_for({**fields, **classified.stamps}, classified.derived, classified.tags)
    if config.territories:
        facts[TERRITORY_KEY] = config.territory_index.match(facts).territory
    return facts


def unrouted_suggestion(
    config: OrgConfig, object_type: str, fields: Mapping[str, Any], now: datetime
) -> GraphSuggestion | None:
    """What the object's graph suggests for the record, or None (no graph, or no node on the path suggests)."""
    graph = config.graphs.get(object_type)
    if graph is None:
        return None
    return booking_walk(graph, unrouted_facts(config, fields, now), now).booking
