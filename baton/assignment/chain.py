"""The routing chain's handlers, one per declared stage, and two ways to run several of them in one call: the
stages before assign (a dry run's ``through_match``) and the whole chain (``route_batch``, for batch jobs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from baton.assignment.assign import assign_batch
from baton.assignment.classify import classify_batch
from baton.assignment.match import match_batch
from baton.assignment.ports import AssignmentPorts
from baton.assignment.territory import territory_batch
from baton.assignment.writeback import writeback_batch
from baton.chains import ASSIGN, CLASSIFY, MATCH, ROUTING, TERRITORY, WRITEBACK, Stage
from messages import AssignmentBatch, StageBatch

RoutingHandler = Callable[[Any, AssignmentPorts], Any]

ROUTING_HANDLERS: Mapping[Stage, RoutingHandler] = {
    CLASSIFY: classify_batch,
    TERRITORY: territory_batch,
    MATCH: match_batch,
    ASSIGN: assign_batch,
    WRITEBACK: writeback_batch,
}


def through_match(batch: StageBatch, ports: AssignmentPorts) -> StageBatch:
    """The routing stages before assign, in the chain's order, on one batch."""
    for stage in ROUTING.before(ASSIGN):
        batch = ROUTING_HANDLERS[stage](batch, ports)
    return batch


def route_batch(batch: StageBatch, ports: AssignmentPorts) -> AssignmentBatch:
    """The whole routing chain for one message in one call, for batch jobs whose records need no per-stage
    queue. A back-office job sends thousands of records at once; passing each batch through four queues costs a
    JSON encode, a decode and a pydantic validation per hop for no benefit. Each record is still decided and
    stored once by the assign stage's code (a redelivered message finds the stored decisions), so a retry is
    safe."""
    decided: AssignmentBatch = ROUTING_HANDLERS[ASSIGN](through_match(batch, ports), ports)
    for stage in ROUTING.following(ASSIGN):
        ROUTING_HANDLERS[stage](decided, ports)
    return decided
