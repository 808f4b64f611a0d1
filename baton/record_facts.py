"""The flat facts the rules read about a record in flight (routing stages and booking suggestions share them)."""

from __future__ import annotations

from typing import Any

from messages import RoutingContext
from messages.routing import MatchInfo
from routing.facts import facts_for


def match_facts(match: MatchInfo | None) -> dict[str, Any] | None:
    """The ``match.*`` facts of a match result (``account_id`` when it is an Account); None without a match."""
    if match is None or not match.record_id:
        return None
    facts: dict[str, Any] = {"object": match.object_type, "record_id": match.record_id, "owner_id": match.owner_id,
                             "score": match.score, "method": match.method}
    if match.object_type == "Account":
        facts["account_id"] = match.record_id
    return facts


def record_facts(context: RoutingContext) -> dict[str, Any]:
    """The flat facts rules read: fields (stamps included), derived values, tags, territory, match."""
    return facts_for(
        {**context.event.fields, **context.stamps},
        context.derived,
        context.tags,
        territory=context.territory.name if context.territory else None,
        match=match_facts(context.match),
    )
