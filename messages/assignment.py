"""The assignment log: what Baton decided for one record, and why."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from messages.base import SCHEMA_VERSION, Contract
from messages.routing import MatchInfo, StageTrace, TerritoryResult
from routing.booking.suggest import GraphSuggestion


class Outcome(StrEnum):
    ASSIGNED = "assigned"
    HELD = "held"
    NOT_ROUTED = "not_routed"
    STALE = "stale"
    STOPPED = "stopped"


class Skipped(Contract):
    member_id: str
    reason: str


class PathStep(Contract):
    node: str
    outcome: str
    reason: str = ""


class AssignmentLog(Contract):
    schema_version: Literal[1] = SCHEMA_VERSION
    routing_id: str
    record_id: str
    object_type: str
    outcome: Outcome
    owner_id: str | None = None
    previous_owner_id: str | None = None
    team: str | None = None
    territory: TerritoryResult | None = None
    match: MatchInfo | None = None
    method: str | None = None
    reasons: list[str] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    skip_summary: dict[str, Any] = Field(default_factory=dict)
    path: list[PathStep] = Field(default_factory=list)
    booking_suggestion: GraphSuggestion | None = Field(
        default=None, description="host and meeting type the router graph's path suggests for bookings"
    )
    tags: list[str] = Field(default_factory=list)
    config_version: int | None = None
    source: str
    source_event_id: str
    event_at: AwareDatetime
    enqueued_at: AwareDatetime | None = None
    decided_at: AwareDatetime
    stamps: dict[str, Any] = Field(default_factory=dict, description="classification stamps, for `baton why`")
    trace: list[StageTrace] = Field(default_factory=list, description="each stage's reasons and duration")


class AssignmentBatch(Contract):
    """The assign stage's output: decisions on their way to write-back and the log stream."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str = Field(min_length=1)
    logs: list[AssignmentLog] = Field(min_length=1)
    enqueued_at: AwareDatetime
