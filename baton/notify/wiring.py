"""Builds the notifier from settings and sends notifications to the notify actor's queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dramatiq

from baton.chains import NOTIFY
from baton.configs import ConfigProvider
from baton.notify.channels import configured_senders
from baton.notify.notifier import Notifier, NotifyingSink
from baton.notify.templates import load_templates
from baton.ports import AssignmentSink
from baton.settings import Settings
from kernel.errors import PermanentError
from kernel.ports.reference_sync import SyncedReads, SyncedUser
from messages.notifications import Channel, Notification, NotificationBatch
from routing.teams import Member


@dataclass
class ConfigAndSyncedUsers:
    """A user's name and email from the org config's members, else from the synced Salesforce users."""

    configs: ConfigProvider
    copy: SyncedReads

    def email(self, user_id: str) -> str | None:
        member = self._member(user_id)
        if member is not None and member.email:
            return member.email
        user = self._user(user_id)
        return user.email if user else None

    def name(self, user_id: str) -> str | None:
        member = self._member(user_id)
        if member is not None and member.name:
            return member.name
        user = self._user(user_id)
        return user.name if user else None

    def _member(self, user_id: str) -> Member | None:
        try:
            _, config = self.configs.current()
        except PermanentError:
            return None
        return next((m for team in config.teams for m in team.members if m.id == user_id), None)

    def _user(self, user_id: str) -> SyncedUser | None:
        row = self.copy.row("User", user_id)
        return row if row and not row.removed_reason else None


def build_notifier(settings: Settings, configs: ConfigProvider, synced: SyncedReads) -> Notifier:
    return Notifier(load_templates(settings.notify_templates), ConfigAndSyncedUsers(configs, synced),
                    configured_senders(settings))


def enqueue_notifications(broker: dramatiq.Broker, notifications: Sequence[Notification]) -> None:
    """One notify message for all of them (the notify actor splits it)."""
    if notifications:
        batch = NotificationBatch(notifications=list(notifications))
        broker.get_actor(NOTIFY.name).send(batch.model_dump(mode="json"))


def with_notifications(settings: Settings, sink: AssignmentSink, broker: dramatiq.Broker) -> AssignmentSink:
    """``sink``, plus a notification to each new owner when SMTP or a Slack webhook is configured."""
    channels = configured_channels(settings)
    if not channels:
        return sink
    return NotifyingSink(sink, lambda batch: enqueue_notifications(broker, batch), channels)


def configured_channels(settings: Settings) -> list[Channel]:
    return list(configured_senders(settings))
