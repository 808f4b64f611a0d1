"""Events a listener could not get back: a window an operator must reconcile by hand.

A replay id past the 72-hour retention is caught up by a SOQL query by ``SystemModstamp``, but only a
one-object change channel names an object to query. For platform-event channels (``/event/...``) and the
multi-object ``/data/ChangeEvents`` the events of the window are gone. Baton says so where operators look:
an error log line and a dead letter of stage ``listen`` (``baton dead-letters list``) naming the channel and
the window. Replaying it resends nothing; it only marks the window as dealt with.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from kernel.ports.operations import DeadLetterRepository, NewDeadLetter

log = structlog.get_logger(__name__)
LOST_STAGE = "listen"


def lost_window_reason(channel: str, since: datetime, until: datetime) -> str:
    return (f"events on {channel} from {since.isoformat()} to {until.isoformat()} are past Salesforce's replay "
            f"retention and this channel names no object to catch up by SystemModstamp: they were not routed. "
            f"Reconcile with `baton reassign --soql \"SELECT Id FROM <Object> WHERE SystemModstamp >= "
            f"{since.strftime('%Y-%m-%dT%H:%M:%SZ')}\"`")


def record_lost_window(dead_letters: DeadLetterRepository, channel: str, since: datetime, until: datetime) -> int:
    """Logs the window and stores it as a ``listen`` dead letter; returns the dead letter's id."""
    reason = lost_window_reason(channel, since, until)
    log.error("catch_up_impossible", channel=channel, since=since.isoformat(), until=until.isoformat(),
              reason=reason)
    return dead_letters.add_dead_letter(NewDeadLetter(
        message_id=f"lost:{channel}:{since.isoformat()}"[:64], queue_name=channel, actor_name=LOST_STAGE,
        stage=LOST_STAGE, routing_ids=[], reason=reason, failed_at=until,
        message={"channel": channel, "since": since.isoformat(), "until": until.isoformat()},
    ))
