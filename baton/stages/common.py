"""Helpers the stage handlers share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from messages import RoutingContext, StageTrace
from routing.facts import facts_for


@contextmanager
def traced(context: RoutingContext, stage: str, reasons: list[str]) -> Iterator[None]:
    """Appends the stage's trace (its reasons and how long it took) to the record's context."""
    started = time.perf_counter()
    yield
    context.trace.append(
        StageTrace(stage=stage, reasons=reasons, duration_ms=round((time.perf_counter() - started) * 1000, 3))
    )


def record_facts(context: RoutingContext) -> dict[str, Any]:
    """The flat facts rules read: fields (stamps included), derived values, tags, territory, match."""
    match = None
    if context.match is not None and context.match.record_id:
        match = {
            "object": context.match.object_type,
            "record_id": context.match.record_id,
            "owner_id": context.match.owner_id,
            "score": context.match.score,
            "method": context.match.method,
        }
        if context.match.object_type == "Account":
            match["account_id"] = context.match.record_id
    return facts_for(
        {**context.event.fields, **context.stamps},
        context.derived,
        context.tags,
        territory=context.territory.name if context.territory else None,
        match=match,
    )
