"""A change to one Salesforce record, as it enters Baton."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from messages.base import SCHEMA_VERSION, Contract
from routing.changes import ChangeType

ROUTING_ID_NAMESPACE = uuid.UUID("5b0a3c1e-8f7d-4d2a-9a51-6b2f0c7e4b11")
ROUTING_ID_CACHE_SIZE = 4_096  # the look-ups of records in flight; ids are one-off

SalesforceId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")]
ObjectName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]


class Source(StrEnum):
    OUTBOUND_MESSAGE = "outbound_message"
    CHANGE_EVENT = "change_event"
    PLATFORM_EVENT = "platform_event"
    BATCH = "batch"
    FILE = "file"
    API = "api"


@lru_cache(maxsize=ROUTING_ID_CACHE_SIZE)
def routing_id_for(source: str, source_event_id: str) -> str:
    """Stable id of one routing: the same event, however often delivered, routes once."""
    return str(uuid.uuid5(ROUTING_ID_NAMESPACE, f"{source}\x1f{source_event_id}"))


class RecordEvent(Contract):
    schema_version: Literal[1] = SCHEMA_VERSION
    object_type: ObjectName
    record_id: SalesforceId
    fields: dict[str, Any] = Field(default_factory=dict)
    change_type: ChangeType = ChangeType.CREATE
    changed_fields: list[str] | None = Field(
        default=None, description="field names the change touched; None when the source does not say"
    )
    changed_by: str | None = Field(default=None, description="user id that made the change")
    change_origin: str | None = None
    source: Source
    source_event_id: str = Field(min_length=1, max_length=255)
    commit_timestamp: AwareDatetime | None = None
    received_at: AwareDatetime
    reason: str | None = Field(
        default=None, max_length=1000, description="why an operator asked for this routing (a manual reassign)"
    )

    @property
    def routing_id(self) -> str:
        return routing_id_for(self.source, self.source_event_id)  # a StrEnum is its value; .value is slow

    def event_time(self) -> datetime:
        return self.commit_timestamp or self.received_at
