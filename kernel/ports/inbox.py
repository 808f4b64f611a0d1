"""The inbox port: the embedded default's durable copy of every message sent to its in-process broker.

A message is stored before it is queued in memory (so before the web process answers Ack or 202), held by
the draining run that queued it, and finished once its actor finished or it was dead-lettered. What is
pending and not held by the running drainer is claimed again: after a restart or a ``kill -9`` that is
everything accepted and not finished."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One queue message as the broker would carry it: ``body`` is the encoded dramatiq message."""

    message_id: str
    queue_name: str
    actor_name: str
    body: str


class InboxRepository(Protocol):
    def accept(self, message: InboxMessage, now: datetime, drainer: str | None) -> None:
        """Stores a message as pending, held by ``drainer`` (None: stored by a process that does not drain,
        waiting for the one that does). The same message again (a retry) keeps its row and stores its new body."""
        ...

    def claim(self, drainer: str, limit: int) -> list[InboxMessage]:
        """Up to ``limit`` pending messages not held by ``drainer``, oldest first, now held by it."""
        ...

    def finish(self, message_id: str, status: str, now: datetime) -> bool:
        """The message's final status (``done`` or ``dead_lettered``) if it is pending; False when it was not
        (a lost compare-and-set: it was finished already)."""
        ...

    def release(self, message_id: str) -> None:
        """A pending message no longer held: the drainer's next claim takes it again."""
        ...

    def pending(self) -> int:
        """How many messages were accepted and are not finished."""
        ...
