"""Putting record events on the pipeline: batches of 1 to N records onto the classify queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from dramatiq import Broker

from baton.chains import ROUTING, Stage
from messages import RecordEvent, RoutingContext, StageBatch


def batches(events: Sequence[RecordEvent], batch_size: int, now: datetime) -> Iterable[StageBatch]:
    for start in range(0, len(events), batch_size):
        chunk = events[start : start + batch_size]
        yield StageBatch(
            batch_id=uuid.uuid4().hex,
            contexts=[RoutingContext(event=event) for event in chunk],
            enqueued_at=now,
        )


def enqueue(broker: Broker, events: Sequence[RecordEvent], batch_size: int, now: datetime,
            stage: Stage = ROUTING.first) -> int:
    """Sends the events; returns how many messages it took. Raises when the broker refuses one."""
    actor = broker.get_actor(stage.name)
    sent = 0
    for batch in batches(events, batch_size, now):
        actor.send(batch.model_dump(mode="json"))
        sent += 1
    return sent
