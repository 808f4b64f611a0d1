"""Every chain Baton runs, declared once: its stages in order, the message each takes, where a result goes.

Actors, queues and their names, the KEDA triggers (checked by a test), the first stage a producer sends to,
and the order the batch route runs the routing handlers in all come from here; which function handles a
stage is bound in ``baton.stage_handlers``. A stage's queue is ``BATON_QUEUE_PREFIX.<stage name>``; every
stage retries with the BATON_MAX_RETRIES / BATON_*_BACKOFF_MS policy and is dead-lettered after it (a
PermanentError at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from messages import AssignmentBatch, StageBatch
from messages.base import Contract
from messages.booking import BookingRequest, BookingStep
from messages.notifications import NotificationBatch


@dataclass(frozen=True)
class Stage:
    """One actor on its own queue. ``undone_on_final_failure``: when its last try fails, the booking it
    carries is undone (calendar event cancelled, Salesforce Event deleted, time released).
    ``splits_into_itself``: a result is a list of smaller messages for this same stage."""

    name: str
    takes: type[Contract]
    undone_on_final_failure: bool = False
    splits_into_itself: bool = False

    def queue(self, prefix: str) -> str:
        return f"{prefix}.{self.name}"


@dataclass(frozen=True)
class Chain:
    """Stages in order: each stage's result is the next stage's message; the last stage's result ends it."""

    name: str
    stages: tuple[Stage, ...]

    @property
    def first(self) -> Stage:
        return self.stages[0]

    def after(self, stage: Stage) -> Stage | None:
        position = self.stages.index(stage)
        return self.stages[position + 1] if position + 1 < len(self.stages) else None

    def before(self, stage: Stage) -> tuple[Stage, ...]:
        return self.stages[: self.stages.index(stage)]

    def following(self, stage: Stage) -> tuple[Stage, ...]:
        return self.stages[self.stages.index(stage) + 1 :]


CLASSIFY = Stage("classify", StageBatch)
TERRITORY = Stage("territory", StageBatch)
MATCH = Stage("match", StageBatch)
ASSIGN = Stage("assign", StageBatch)
WRITEBACK = Stage("writeback", AssignmentBatch)
ROUTING = Chain("routing", (CLASSIFY, TERRITORY, MATCH, ASSIGN, WRITEBACK))

ROUTE = Stage("route", StageBatch)
BATCH_ROUTING = Chain("batch routing: the routing chain in one call per message", (ROUTE,))

BOOKING_REQUEST = Stage("booking_request", BookingRequest)
BOOKING_CALENDAR = Stage("booking_calendar", BookingStep, undone_on_final_failure=True)
BOOKING_EVENT = Stage("booking_event", BookingStep, undone_on_final_failure=True)
BOOKING_OWNER = Stage("booking_owner", BookingStep, undone_on_final_failure=True)
BOOKING_LOG = Stage("booking_log", BookingStep, undone_on_final_failure=True)
BOOKING_STEPS = (BOOKING_CALENDAR, BOOKING_EVENT, BOOKING_OWNER, BOOKING_LOG)
BOOKING = Chain("booking", (BOOKING_REQUEST, *BOOKING_STEPS))
BOOKED = BOOKING_STEPS[0]  # where a booking reserved at once (API, handoff page) continues

BOOKING_SYNC = Stage("booking_sync", BookingStep)
BOOKING_FOLLOWS = Chain("booking sync: calendar event and Salesforce Event follow a changed booking",
                        (BOOKING_SYNC,))

NOTIFY = Stage("notify", NotificationBatch, splits_into_itself=True)
NOTIFICATIONS = Chain("notifications", (NOTIFY,))

CHAINS: tuple[Chain, ...] = (ROUTING, BATCH_ROUTING, BOOKING, BOOKING_FOLLOWS, NOTIFICATIONS)


def all_stages() -> Iterator[tuple[Chain, Stage]]:
    for chain in CHAINS:
        for stage in chain.stages:
            yield chain, stage


def stage_names() -> tuple[str, ...]:
    return tuple(stage.name for _, stage in all_stages())


def queue_names(prefix: str) -> tuple[str, ...]:
    return tuple(stage.queue(prefix) for _, stage in all_stages())
