"""Which function handles each declared stage (``baton.chains``); the routing chain's own handlers come from
``baton.assignment.chain``. A handler takes the stage's message and the application; it returns the next stage's message,
a list of messages (a stage that splits into itself), or None (nothing to hand on)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from baton.assignment.chain import ROUTING_HANDLERS, RoutingHandler, route_batch
from baton.assignment.ports import AssignmentPorts
from baton.booking import chain as booking
from baton.booking.lifecycle import no_shows_from_events, sync
from baton.booking.ports import BookingPorts
from baton.booking.stages import request_booking
from baton.chains import (
    BOOKING_CALENDAR,
    BOOKING_EVENT,
    BOOKING_LOG,
    BOOKING_OWNER,
    BOOKING_REQUEST,
    BOOKING_SYNC,
    CLASSIFY,
    NOTIFY,
    ROUTE,
    Stage,
    all_stages,
)
from baton.notify.deliver import deliver
from baton.ports import Ports
from baton.runtime import Runtime
from messages import StageBatch
from messages.base import Contract
from messages.booking import BookingRequest, BookingStep

Result = Contract | Sequence[Contract] | None
Handler = Callable[[Any, Runtime], Result]


@dataclass(frozen=True)
class OnAssignmentPorts:
    """A routing handler: it gets only what the routing stages use (``AssignmentPorts``)."""

    handle: RoutingHandler

    def __call__(self, message: Any, app: Runtime) -> Any:
        return self.handle(message, AssignmentPorts.of(app.ports))


@dataclass(frozen=True)
class OnBookingPorts:
    """A booking handler: it gets only what booking uses (``BookingPorts``)."""

    handle: Callable[[Any, BookingPorts], Any]

    def __call__(self, message: Any, app: Runtime) -> Any:
        return self.handle(message, BookingPorts.of(app.ports))


def _no_shows_then(route: RoutingHandler) -> Handler:
    """Salesforce Event changes that set the no-show field mark their bookings first (classify and the batch
    route; a dry run's ``through_match`` changes nothing)."""

    def handle(batch: StageBatch, app: Runtime) -> Any:
        if any(context.event.object_type == "Event" for context in batch.contexts):
            no_shows_from_events([context.event for context in batch.contexts],
                                 app.settings.salesforce_no_show_field, BookingPorts.of(app.ports), app.broker)
        return route(batch, AssignmentPorts.of(app.ports))

    return handle


def _request_booking(request: BookingRequest, app: Runtime) -> BookingStep | None:
    """A queued booking request; one delivered again resumes its booking's chain (it sends that step itself)."""
    return request_booking(request, BookingPorts.of(app.ports), app.broker)


HANDLERS: Mapping[Stage, Handler] = {
    CLASSIFY: _no_shows_then(ROUTING_HANDLERS[CLASSIFY]),
    **{stage: OnAssignmentPorts(handle) for stage, handle in ROUTING_HANDLERS.items() if stage is not CLASSIFY},
    ROUTE: _no_shows_then(route_batch),
    BOOKING_REQUEST: _request_booking,
    BOOKING_CALENDAR: OnBookingPorts(booking.create_calendar_event),
    BOOKING_EVENT: OnBookingPorts(booking.upsert_salesforce_event),
    BOOKING_OWNER: OnBookingPorts(booking.assign_owner),
    BOOKING_LOG: OnBookingPorts(booking.publish_log),
    BOOKING_SYNC: OnBookingPorts(sync),
    NOTIFY: deliver,
}


def undo(message: Any, reason: str, ports: Ports) -> None:
    """A booking stage that finally failed: the booking is undone (``booking.give_up``)."""
    booking.give_up(message.booking_id, reason, BookingPorts.of(ports))


def unbound_stages() -> list[str]:
    return [stage.name for _, stage in all_stages() if stage not in HANDLERS]
