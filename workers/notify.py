"""Deliver a notification (email or Slack); a failing one is retried on its own, then dead-lettered."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from baton import runtime
from baton.errors import InputError
from baton.notify.notifier import Notifier
from baton.notify.wiring import NOTIFY_STAGE, build_notifier, enqueue_notifications
from messages.notifications import NotificationBatch
from workers.actors import stage_actor

_built: dict[int, Notifier] = {}


def _notifier(current: runtime.Runtime) -> Notifier:
    """One notifier per runtime (built on first use, so its settings errors surface as a failed message)."""
    key = id(current)
    if key not in _built:
        _built.clear()
        _built[key] = build_notifier(current.settings, current.ports.configs, current.ports.store)
    return _built[key]


@stage_actor(NOTIFY_STAGE)
def notify(payload: dict[str, Any]) -> None:
    try:
        batch = NotificationBatch.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InputError(f"notify: invalid notification batch: {where}: {error['msg']}") from None
    current = runtime.current()
    if len(batch.notifications) > 1:
        for notification in batch.notifications:
            enqueue_notifications(current.broker, [notification])
        return
    _notifier(current).deliver(batch.notifications[0])
