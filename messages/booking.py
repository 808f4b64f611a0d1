"""Hot handover booking: the request (HTTP or queue), the step between chain stages, the booking log."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, EmailStr, Field, field_validator, model_validator

from messages.base import SCHEMA_VERSION, Contract
from messages.records import ObjectName, SalesforceId
from routing.booking.config import HostOption
from routing.booking.platforms import PlatformName
from routing.lifecycles.booking import (  # noqa: F401 - re-exported: declared with the booking's state machine
    FINAL_STATUSES,
    BookingStatus,
)

BOOKING_ID_NAMESPACE = uuid.UUID("9d4c6f0e-2b1a-4c3e-8f5d-7a6b5c4d3e2f")
MAX_INVITEES = 50


def booking_id_for(request_key: str) -> str:
    """A stable booking id from a caller's idempotency key (a redelivered request books once)."""
    return str(uuid.uuid5(BOOKING_ID_NAMESPACE, request_key))


class BookingRequest(Contract):
    """A scheduler books a hand-over meeting on a record, for a host option, at a time (or now)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: str | None = Field(
        default=None, min_length=1, max_length=255,
        description="idempotency key: the same request id books once (queue redeliveries, client retries)",
    )
    object_type: ObjectName
    record_id: SalesforceId
    scheduler_user_id: SalesforceId
    scheduler_name: str = Field(default="", max_length=255)
    meeting_type: str | None = Field(default=None, description="default: the object's suggested type")
    host: HostOption | None = Field(default=None, description="default: the object's suggested host")
    pool_member_id: SalesforceId | None = Field(
        default=None, description="manual pools: the member the scheduler picked"
    )
    co_hosts: list[SalesforceId] = Field(default_factory=list, max_length=10)
    extra_pools: list[str] = Field(
        default_factory=list, max_length=5,
        description="one more host from each of these pools (e.g. a solutions engineer), all free at the time",
    )
    start: AwareDatetime | None = Field(default=None, description="meeting start; omit with meet_now")
    meet_now: bool = Field(default=False, description="instant handoff: a host free from now on")
    guest_email: EmailStr
    guest_name: str = Field(default="", max_length=255)
    invitees: list[EmailStr] = Field(default_factory=list, max_length=MAX_INVITEES)
    meeting_platform: PlatformName | None = Field(
        default=None, description="default: the booking type's platform"
    )
    record_fields: dict[str, Any] = Field(
        default_factory=dict, description="record fields the object's suggestion rules read"
    )

    @field_validator("extra_pools")
    @classmethod
    def _each_pool_once(cls, pools: list[str]) -> list[str]:
        twice = sorted({pool for pool in pools if pools.count(pool) > 1})
        if twice:
            raise ValueError(f"a pool is listed twice: {', '.join(twice)} (one host comes from each pool)")
        return pools

    @model_validator(mode="after")
    def _time_or_now(self) -> BookingRequest:
        if self.meet_now == (self.start is not None):
            raise ValueError("give either start or meet_now: true")
        return self


class BookingStep(Contract):
    """What one chain stage hands the next: the booking's id (its state is in the store)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    booking_id: str = Field(min_length=1, max_length=36)
    enqueued_at: AwareDatetime


class BookingLog(Contract):
    """What happened to one booking, published with the assignment logs when it ends."""

    schema_version: Literal[1] = SCHEMA_VERSION
    booking_id: str
    status: BookingStatus
    booking_type: str
    object_type: str
    record_id: str
    scheduler_user_id: str
    host_id: str
    pool: str | None = Field(default=None, description="the pool (team) the host came from; None for one person")
    subject: str = Field(default="", description="the meeting's title (the event subject template, filled in)")
    co_host_ids: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    guest_email: str
    calendar_event_id: str | None = None
    meet_link: str | None = None
    salesforce_event_id: str | None = None
    reasons: list[str] = Field(default_factory=list)
    error: str | None = None
    decided_at: AwareDatetime


class CancelBooking(Contract):
    """``POST /bookings/{id}/cancel``: why (kept with the booking and logged)."""

    reason: str = Field(default="", max_length=1000)


class RescheduleBooking(Contract):
    """``POST /bookings/{id}/reschedule``: the new start."""

    start: AwareDatetime
    reason: str = Field(default="", max_length=1000)


class ReassignBooking(Contract):
    """``POST /bookings/{id}/reassign``: another pool member hosts, at the same time (a named one, or the
    pool's choice without the current host); the reason is logged."""

    host_id: SalesforceId | None = None
    reason: str = Field(min_length=1, max_length=1000)
