"""An outbox row's lifecycle: an owner write waiting for Salesforce, from queued to its final outcome.

A row enters ``pending``. A write attempt that Salesforce answered ends it (``sent``, ``rejected``; the bulk
channel's ``unchanged`` when the record already has the owner; ``not_configured`` without a Salesforce
connection) or keeps it ``pending`` with a later next attempt (a transient failure, or a write in flight whose
outcome is unknown until read back). ``failed`` is a write given up on (a permanent error, or transient ones for
the whole retry window) and copied to the dead letters; replaying the letter puts it back to ``pending``.
``superseded`` is a row not sent because a newer decision for the same record is written or waiting to be;
``withdrawn`` an owner change taken back before it was sent (a booking cancelled while its chain ran).
"""

from __future__ import annotations

from enum import StrEnum

from routing.lifecycles.machine import StateMachine, table


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    REJECTED = "rejected"
    UNCHANGED = "unchanged"
    NOT_CONFIGURED = "not_configured"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


S = OutboxStatus
OUTBOX = StateMachine[OutboxStatus](
    "outbox row",
    table([
        # pending -> pending: attempted again later, or marked in flight before a write
        (S.PENDING, (S.PENDING, S.SENT, S.REJECTED, S.UNCHANGED, S.NOT_CONFIGURED, S.FAILED, S.SUPERSEDED,
                     S.WITHDRAWN)),
        (S.FAILED, (S.PENDING,)),  # a replayed dead letter
        (S.SENT, ()),
        (S.REJECTED, ()),
        (S.UNCHANGED, ()),
        (S.NOT_CONFIGURED, ()),
        (S.SUPERSEDED, ()),
        (S.WITHDRAWN, ()),
    ]),
    initial=S.PENDING,
)

# A newer row in one of these statuses supersedes an older pending row of the same record: its owner is in
# Salesforce (or, without a connection, would be), or is on its way there.
SUPERSEDING = frozenset({S.PENDING, S.SENT, S.UNCHANGED, S.NOT_CONFIGURED})
# What a finished write attempt may end in: the outcomes an owner writer reports for a row it was given.
ATTEMPT_OUTCOMES = frozenset({S.SENT, S.REJECTED, S.UNCHANGED, S.NOT_CONFIGURED, S.SUPERSEDED, S.FAILED})
