"""An inbox message of the embedded default: stored before the Ack or 202, then finished once.

``pending`` until the message's actor finished (``done``) or it was dead-lettered into the store
(``dead_lettered``); both are final, so a message finished twice (a re-run after a restart racing the first
run's end) is a lost compare-and-set, not a second outcome."""

from __future__ import annotations

from enum import StrEnum

from routing.lifecycles.machine import StateMachine, table


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD_LETTERED = "dead_lettered"


INBOX = StateMachine(
    "inbox message",
    table([
        (InboxStatus.PENDING, (InboxStatus.DONE, InboxStatus.DEAD_LETTERED)),
        (InboxStatus.DONE, ()),
        (InboxStatus.DEAD_LETTERED, ()),
    ]),
    InboxStatus.PENDING,
)
