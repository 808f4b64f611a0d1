"""The booking chain's actors: a request (from a queue) reserves, then calendar -> Salesforce Event ->
owner -> log, each on its own queue with its own retries. A booking whose stage finally fails is undone."""

from __future__ import annotations

from typing import Any

from baton.booking import chain
from baton.booking.stages import run_booking_request, run_booking_step, run_sync_step
from workers.actors import stage_actor


@stage_actor("booking_request")
def booking_request(request: dict[str, Any]) -> None:
    run_booking_request(request, next_stage="booking_calendar")


@stage_actor("booking_calendar")
def booking_calendar(step: dict[str, Any]) -> None:
    run_booking_step("booking_calendar", step, chain.create_calendar_event, next_stage="booking_event")


@stage_actor("booking_event")
def booking_event(step: dict[str, Any]) -> None:
    run_booking_step("booking_event", step, chain.upsert_salesforce_event, next_stage="booking_owner")


@stage_actor("booking_owner")
def booking_owner(step: dict[str, Any]) -> None:
    run_booking_step("booking_owner", step, chain.assign_owner, next_stage="booking_log")


@stage_actor("booking_log")
def booking_log(step: dict[str, Any]) -> None:
    run_booking_step("booking_log", step, chain.publish_log, next_stage=None)


@stage_actor("booking_sync")
def booking_sync(step: dict[str, Any]) -> None:
    """A cancelled, no-show, rescheduled or reassigned booking: calendar event and Salesforce Event follow."""
    run_sync_step(step)
