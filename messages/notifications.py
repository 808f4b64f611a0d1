"""A notification on its way to one person over one channel (email or Slack)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from messages.base import SCHEMA_VERSION, Contract

Kind = Literal["assigned", "sla_escalation", "booking", "outbox_backlog"]
Channel = Literal["email", "slack"]


class Notification(Contract):
    """One person told over one channel."""

    schema_version: Literal[1] = SCHEMA_VERSION
    notification_id: str = Field(min_length=1, max_length=200)
    kind: Kind
    channel: Channel
    recipient_id: str = Field(min_length=1, description="Salesforce user id of the person told")
    values: dict[str, str] = Field(default_factory=dict, description="what the template fills in")


class NotificationBatch(Contract):
    """The notify queue's message. The write-back stage queues one per batch of decisions (one publish, however
    many owners); the notify actor splits a batch into one message per notification and delivers those, so a
    retry re-sends only the notification that failed."""

    schema_version: Literal[1] = SCHEMA_VERSION
    notifications: list[Notification] = Field(min_length=1, max_length=20_000)
