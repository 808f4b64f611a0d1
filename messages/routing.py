"""The routing context a record carries from stage to stage, and the batches that carry it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from messages.base import SCHEMA_VERSION, Contract
from messages.records import RecordEvent


class StageTrace(Contract):
    stage: str
    reasons: list[str] = Field(default_factory=list)
    duration_ms: float = 0.0


class TerritoryResult(Contract):
    name: str | None = None
    team: str | None = None
    reasons: list[str] = Field(default_factory=list)


class MatchInfo(Contract):
    object_type: str | None = None
    record_id: str | None = None
    owner_id: str | None = None
    score: float | None = None
    method: str | None = None
    reason: str = ""


class RoutingContext(Contract):
    """Grows stage by stage: classify adds tags and derived fields, territory and match theirs."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event: RecordEvent
    config_version: int | None = None
    derived: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    stamps: dict[str, Any] = Field(default_factory=dict)
    territory: TerritoryResult | None = None
    match: MatchInfo | None = None
    trace: list[StageTrace] = Field(default_factory=list)

    @property
    def routing_id(self) -> str:
        return self.event.routing_id


class StageBatch(Contract):
    """One queue message: 1 to N records moving through a stage together, each keyed on its own."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str = Field(min_length=1)
    contexts: list[RoutingContext] = Field(min_length=1)
    enqueued_at: AwareDatetime
    recheck: bool = Field(default=False, description="re-decide records that are held, instead of reusing the hold")
