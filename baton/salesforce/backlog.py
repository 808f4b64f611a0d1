"""The backlog alarm: someone is told when owners have waited too long to reach Salesforce.

After each round the flusher looks at its oldest pending real-time write. When that write's age passes the
threshold (``BATON_OUTBOX_ALERT_AFTER_S``) the alarm is raised once: logged and handed to ``notify``; it is
raised again only after the backlog came back under the threshold (logged as cleared) and crossed it anew, not
every round. A notification that could not be queued is tried again the next round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from kernel.ports.outbox import Backlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BacklogAlert:
    """The crossing, as the notification tells it."""

    oldest_age: timedelta
    rows: int
    threshold: timedelta
    at: datetime


class Crossing(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


def crossing(raised: bool, age: timedelta, threshold: timedelta) -> Crossing | None:
    """Whether this look at the backlog's age raises the alarm, clears it, or changes nothing."""
    if not raised and age >= threshold:
        return Crossing.RAISED
    if raised and age < threshold:
        return Crossing.CLEARED
    return None


def oldest_age(backlog: Backlog | None, now: datetime) -> timedelta:
    """How long the oldest pending write has waited (zero when none waits)."""
    if backlog is None or backlog.oldest_created_at is None:
        return timedelta(0)
    return max(now - backlog.oldest_created_at, timedelta(0))


@dataclass
class BacklogAlarm:
    threshold: timedelta
    notify: Callable[[BacklogAlert], None]
    raised: bool = False

    def observe(self, backlog: Backlog | None, now: datetime) -> Crossing | None:
        age = oldest_age(backlog, now)
        change = crossing(self.raised, age, self.threshold)
        if change is Crossing.RAISED:
            alert = BacklogAlert(age, backlog.rows if backlog else 0, self.threshold, now)
            log.warning("outbox_backlog", oldest_age_s=int(age.total_seconds()), rows=alert.rows,
                        threshold_s=int(self.threshold.total_seconds()))
            try:
                self.notify(alert)
            except Exception as exc:  # noqa: BLE001 (the broker may be away too: the next round tries again)
                log.warning("outbox_backlog_notification_failed", error=str(exc))
                return None
        elif change is Crossing.CLEARED:
            log.info("outbox_backlog_cleared", oldest_age_s=int(age.total_seconds()))
        if change is not None:
            self.raised = change is Crossing.RAISED
        return change
