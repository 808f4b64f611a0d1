"""Deliver one notification (email or Slack); a failing channel is retried, then dead-lettered."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from baton import runtime
from baton.errors import InputError
from baton.notify.notifier import Notifier
from baton.notify.wiring import NOTIFY_STAGE, build_notifier
from messages.notifications import Notification
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
        notification = Notification.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"notify: invalid notification: {exc.errors()[0]['msg']}") from None
    _notifier(runtime.current()).deliver(notification)
