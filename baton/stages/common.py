"""Helpers the stage handlers share."""

from __future__ import annotations

import time
from typing import Any

from messages import RoutingContext, StageTrace
from messages.routing import MatchInfo
from routing.facts import facts_for


class traced:  # noqa: N801 - used as ``with traced(...)``, like the generator-based manager it replaced
    """Appends the stage's trace (its reasons and how long it took) to the record's context.

    A plain class rather than ``@contextmanager``: it runs three times per record, and a generator-based
    manager costs several times more to enter and leave."""

    __slots__ = ("context", "stage", "reasons", "started")

    def __init__(self, context: RoutingContext, stage: str, reasons: list[str]) -> None:
        self.context, self.stage, self.reasons = context, stage, reasons
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is not None:  # the stage failed: no trace, the error goes on
            return
        self.context.trace.append(StageTrace(stage=self.stage, reasons=self.reasons,
                                             duration_ms=round((time.perf_counter() - self.started) * 1000, 3)))


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
