"""Held records are re-checked by polling the store, never by delayed queue messages."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from dramatiq import Broker

from baton.chains import ASSIGN
from kernel.ports.holds import HoldRepository
from messages import RoutingContext, StageBatch

RECHECK_LEASE = timedelta(minutes=2)


def recheck_due_holds(holds: HoldRepository, broker: Broker, now: datetime, limit: int = 1000, batch_size: int = 100) -> int:
    """Sends every hold that is due back to the assign stage; returns how many were sent.

    Each sent hold is leased first (``rechecking``, its next check moved on: a compare-and-set, so of two
    rounds reading the same hold only one sends it) and the next poll does not send it again while the re-check
    is on its way; a re-check that still finds nobody holds it again with its own next time.
    """
    due = holds.held(due_at=now, limit=limit)
    if not due:
        return 0
    actor = broker.get_actor(ASSIGN.name)
    leased = set(holds.lease(due, now + RECHECK_LEASE))
    due = [held for held in due if held.routing_id in leased]
    for start in range(0, len(due), batch_size):
        chunk = due[start : start + batch_size]
        batch = StageBatch(
            batch_id=uuid.uuid4().hex,
            contexts=[RoutingContext.model_validate(held.context) for held in chunk],
            enqueued_at=now,
            recheck=True,
        )
        actor.send(batch.model_dump(mode="json"))
    return len(due)
