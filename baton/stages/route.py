"""Route: the whole chain for one message in one call, for batch jobs whose records need no per-stage queue.

A back-office job sends thousands of records at once; passing each batch through four queues costs a JSON
encode, a decode and a pydantic validation per hop for no benefit, so a job's batches go to the ``route``
actor, which calls the same stage handlers in turn. Each record is still decided and stored once by the
assign stage's code (a redelivered message finds the stored decisions), so a retry is safe.
"""

from __future__ import annotations

from collections.abc import Callable

from baton.ports import Ports
from baton.stages.assign import assign_batch
from baton.stages.classify import classify_batch
from baton.stages.match import match_batch
from baton.stages.territory import territory_batch
from baton.stages.writeback import writeback_batch
from messages import AssignmentBatch, StageBatch

BEFORE_ASSIGN: tuple[Callable[[StageBatch, Ports], StageBatch], ...] = (classify_batch, territory_batch, match_batch)


def through_match(batch: StageBatch, ports: Ports) -> StageBatch:
    """Classify, territory and match, in order, on one batch."""
    for handler in BEFORE_ASSIGN:
        batch = handler(batch, ports)
    return batch


def route_batch(batch: StageBatch, ports: Ports) -> AssignmentBatch:
    decided = assign_batch(through_match(batch, ports), ports)
    writeback_batch(decided, ports)
    return decided
