"""Who is told what: notifications built from assignment logs, and their delivery over each channel."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from adapters.logstream.entries import StreamEntry
from baton.notify.channels import CHANNELS, Directory, Sender
from baton.notify.templates import Template
from baton.ports import AssignmentSink
from baton.salesforce.backlog import BacklogAlert
from messages import AssignmentLog
from messages.assignment import Outcome
from messages.booking import BookingLog, BookingStatus
from messages.notifications import Channel, Notification
from messages.records import Source

log = structlog.get_logger(__name__)
BATCH = Source.BATCH.value
BOOKING_METHOD = "booking"


def owner_notifications(logs: Sequence[AssignmentLog], channels: Sequence[Channel]) -> list[Notification]:
    """One notification per channel for every record assigned to a user; batch reassignment jobs (thousands of
    records moved on purpose, the owners told by whoever ran the job) notify nobody, and a booking's host
    gets the booking notification (``booking_notifications``) instead."""
    return [
        Notification(notification_id=f"{entry.routing_id}:{channel}", kind="assigned", channel=channel,
                     recipient_id=entry.owner_id,
                     values={"object_type": entry.object_type, "record_id": entry.record_id,
                             "team": entry.team or "-", "method": entry.method or "-",
                             "owner_id": entry.owner_id, "routing_id": entry.routing_id})
        for entry in logs if entry.outcome is Outcome.ASSIGNED and entry.owner_id and entry.source != BATCH
        and entry.method != BOOKING_METHOD
        for channel in channels
    ]


def host_notifications(booking_id: str, host_id: str, title: str, start: datetime, end: datetime,
                       channels: Sequence[Channel]) -> list[Notification]:
    """What the booking chain queues (``enqueue_notifications``) once a meeting is confirmed with its host."""
    return [
        Notification(notification_id=f"{booking_id}:booking:{channel}", kind="booking", channel=channel,
                     recipient_id=host_id, values={"title": title, "start": start.isoformat(),
                                                   "end": end.isoformat(), "booking_id": booking_id})
        for channel in channels
    ]


def booking_notifications(entries: Sequence[StreamEntry], channels: Sequence[Channel]) -> list[Notification]:
    """The host of every confirmed booking on the stream is told of the meeting (title, start, end)."""
    notifications: list[Notification] = []
    for entry in entries:
        if entry.kind != "booking" or entry.outcome != BookingStatus.CONFIRMED.value:
            continue
        booking = BookingLog.model_validate({key: value for key, value in entry.body.items() if key != "kind"})
        notifications += host_notifications(booking.booking_id, booking.host_id,
                                            booking.subject or booking.booking_type, booking.start, booking.end,
                                            channels)
    return notifications


def backlog_notifications(alert: BacklogAlert, recipients: Sequence[str],
                          channels: Sequence[Channel]) -> list[Notification]:
    """Each recipient told over each channel that owner writes wait for Salesforce (once per crossing)."""
    values = {"rows": str(alert.rows), "oldest_age": _duration(alert.oldest_age),
              "threshold": _duration(alert.threshold)}
    return [
        Notification(notification_id=f"outbox-backlog:{alert.at.isoformat()}:{recipient}:{channel}",
                     kind="outbox_backlog", channel=channel, recipient_id=recipient, values=values)
        for recipient in recipients for channel in channels
    ]


def _duration(span: timedelta) -> str:
    """``1 h 05 min``, ``12 min``: how long, to the minute."""
    minutes = int(span.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


@dataclass
class Notifier:
    templates: dict[str, Template]
    directory: Directory
    senders: Mapping[Channel, Sender] = field(default_factory=dict)

    @property
    def channels(self) -> list[Channel]:
        return [name for name in CHANNELS if name in self.senders]

    def deliver(self, notification: Notification) -> str:
        """Sends it; returns ``sent`` or why it was skipped. Channel errors propagate, typed."""
        template = self.templates[notification.kind]
        values = {"recipient_name": self.directory.name(notification.recipient_id) or notification.recipient_id,
                  **notification.values}
        sender = self.senders.get(notification.channel)
        if sender is None:
            return self._skipped(notification, CHANNELS[notification.channel].not_configured)
        skipped = sender.deliver(notification, template, values, self.directory)
        return self._skipped(notification, skipped) if skipped is not None else self._sent(notification)

    @staticmethod
    def _sent(notification: Notification) -> str:
        log.info("notification_sent", notification_id=notification.notification_id, kind=notification.kind,
                 channel=notification.channel, recipient_id=notification.recipient_id)
        return "sent"

    @staticmethod
    def _skipped(notification: Notification, reason: str) -> str:
        log.warning("notification_skipped", notification_id=notification.notification_id, kind=notification.kind,
                    channel=notification.channel, recipient_id=notification.recipient_id, reason=reason)
        return f"skipped: {reason}"


@dataclass
class NotifyingSink:
    """Passes logs on to ``inner``, then queues a notification per new owner and channel (one message).

    Queuing is all it does on the stage's path: delivery happens in the notify actor, which retries a
    failing channel on its own and dead-letters it at the end, so a mail server that is down never
    slows or fails routing. A failed enqueue fails the write-back stage, which is retried (the
    decision itself is already stored).
    """

    inner: AssignmentSink
    send: Callable[[list[Notification]], None]
    channels: Sequence[Channel]

    def publish(self, logs: Sequence[AssignmentLog]) -> None:
        self.inner.publish(logs)
        self.send(owner_notifications(logs, self.channels))

    def publish_entries(self, entries: Sequence[StreamEntry]) -> None:
        self.inner.publish_entries(entries)
        self.send(booking_notifications(entries, self.channels))
