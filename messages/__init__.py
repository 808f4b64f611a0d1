"""The message contract: everything that crosses a queue or the HTTP edge."""

from messages.assignment import AssignmentBatch, AssignmentLog, Outcome, PathStep, Skipped
from messages.records import ChangeType, RecordEvent, Source, routing_id_for
from messages.routing import MatchInfo, RoutingContext, StageBatch, StageTrace, TerritoryResult

__all__ = [
    "AssignmentBatch",
    "AssignmentLog",
    "ChangeType",
    "MatchInfo",
    "Outcome",
    "PathStep",
    "RecordEvent",
    "RoutingContext",
    "Skipped",
    "Source",
    "StageBatch",
    "StageTrace",
    "TerritoryResult",
    "routing_id_for",
]
