"""The notify stage: deliver one notification (email or Slack); a batch of several is split into one
message each, so each is retried and dead-lettered on its own."""

from __future__ import annotations

from baton.notify.notifier import Notifier
from baton.notify.wiring import build_notifier
from baton.runtime import Runtime
from messages.notifications import NotificationBatch

_built: dict[tuple[int, int, int], Notifier] = {}


def _notifier(app: Runtime) -> Notifier:
    """One notifier per application's settings, configs and synced users (built on first use, so its settings
    errors surface as a failed message). Of the ports it uses only those two."""
    synced = app.ports.store.reference_sync
    key = (id(app.settings), id(app.ports.configs), id(synced))
    if key not in _built:
        _built.clear()
        _built[key] = build_notifier(app.settings, app.ports.configs, synced)
    return _built[key]


def deliver(batch: NotificationBatch, app: Runtime) -> list[NotificationBatch] | None:
    if len(batch.notifications) > 1:
        return [NotificationBatch(notifications=[notification]) for notification in batch.notifications]
    _notifier(app).deliver(batch.notifications[0])
    return None
