"""What goes on the log stream: a routing key's parts and a JSON body, for any kind of log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.logstream.keys import routing_key
from messages import AssignmentLog
from messages.booking import BookingLog


@dataclass(frozen=True)
class StreamEntry:
    """One log on its way to the exchange: the key's parts and the JSON body."""

    kind: str
    object_type: str | None
    team: str | None
    outcome: str | None
    body: dict[str, Any]
    message_id: str | None = None

    @property
    def routing_key(self) -> str:
        return routing_key(self.kind, self.object_type, self.team, self.outcome)


def assignment_entries(logs: Sequence[AssignmentLog]) -> list[StreamEntry]:
    return [
        StreamEntry("assignment", log.object_type, log.team, log.outcome.value,
                    {"kind": "assignment", **log.model_dump(mode="json")}, log.routing_id)
        for log in logs
    ]


def booking_entries(logs: Sequence[BookingLog]) -> list[StreamEntry]:
    """Keyed ``booking.<object>.<pool>.<status>``: ``confirmed`` or ``failed`` when a booking ends."""
    return [
        StreamEntry("booking", log.object_type, log.pool, log.status.value,
                    {"kind": "booking", **log.model_dump(mode="json")}, f"{log.booking_id}:{log.status.value}")
        for log in logs
    ]
