"""The embedded default's in-process broker with a durable inbox: every message is stored in the store's inbox
before it is queued in memory, so what the web process answered Ack or 202 for survives a restart or ``kill -9``.

``InboxBroker.enqueue`` stores the message (a store failure is the broker's connection error: the caller answers
503, a retry is tried again), then queues it in memory only while this process drains the inbox (it holds the
drain lock: ``baton.embedded``); a process that does not drain leaves its messages to the one that does.
``InboxCompletion`` finishes a message's row once its actor finished, or once it was dead-lettered into the
store; a message nacked without a stored dead letter is let go, so the drainer claims and runs it again.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from dramatiq import Middleware
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import q_name
from dramatiq.errors import BrokerConnectionError
from dramatiq.message import Message

from baton.middleware import DEAD_LETTER_ID
from kernel.ports.inbox import InboxMessage, InboxRepository
from routing.lifecycles.inbox import InboxStatus

log = structlog.get_logger(__name__)
KEPT_DEAD_LETTERS = 100


class InboxUnavailable(BrokerConnectionError):
    """The inbox could not store a message: nothing was queued, the sender should answer 503 or retry."""


class InboxBroker(StubBroker):
    """The in-process broker whose messages are stored in the inbox before they are queued."""

    def __init__(self, inbox: InboxRepository, clock: Callable[[], datetime], middleware: list[Middleware]):
        super().__init__(middleware=[InboxCompletion(), *middleware])
        # the stub keeps every nacked message for tests to join on; a long-lived web process keeps a few (the
        # store holds the dead letters)
        self.dead_letters_by_queue = defaultdict(lambda: deque(maxlen=KEPT_DEAD_LETTERS))  # type: ignore[assignment]
        self.inbox = inbox
        self.clock = clock
        self.drainer: str | None = None  # the draining run's id while this process drains the inbox
        self._delayed: set[str] = set()
        self._guard = threading.Lock()

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        if delay is None and self._came_due(message.message_id):
            return super().enqueue(message)  # a delayed retry moved to its queue: stored when it was delayed
        try:
            self.inbox.accept(entry(message), self.clock(), self.drainer)
        except Exception as exc:
            raise InboxUnavailable(f"the inbox could not store the message: {exc}") from exc
        if self.drainer is None:
            return message  # stored for the process that drains the inbox
        if delay is not None:
            with self._guard:
                self._delayed.add(message.message_id)
        return super().enqueue(message, delay=delay)

    def queue_claimed(self, claimed: InboxMessage) -> None:
        """Queues in memory a message the inbox already holds (claimed by this process's draining run)."""
        super().enqueue(Message.decode(claimed.body.encode()).copy(queue_name=claimed.queue_name))

    def finish(self, message: MessageProxy, status: InboxStatus) -> None:
        try:
            if not self.inbox.finish(message.message_id, status, self.clock()):
                log.info("inbox_message_already_finished", message_id=message.message_id, actor=message.actor_name)
        except Exception as exc:  # noqa: BLE001 - still pending: a later run does it again (the stages are idempotent)
            log.error("inbox_finish_failed", message_id=message.message_id, actor=message.actor_name, error=str(exc))

    def let_go(self, message: MessageProxy) -> None:
        try:
            self.inbox.release(message.message_id)
        except Exception as exc:  # noqa: BLE001 - still held by this run: the next start runs it again
            log.error("inbox_release_failed", message_id=message.message_id, error=str(exc))

    def forget_delays(self) -> None:
        with self._guard:
            self._delayed.clear()

    def _came_due(self, message_id: str) -> bool:
        with self._guard:
            if message_id in self._delayed:
                self._delayed.discard(message_id)
                return True
            return False


def entry(message: Message) -> InboxMessage:
    """A message as the inbox stores it (on its own queue, not a delay queue)."""
    return InboxMessage(message_id=message.message_id, queue_name=q_name(message.queue_name),
                        actor_name=message.actor_name, body=message.encode().decode())


class InboxCompletion(Middleware):
    """Finishes a message's inbox row: done when its actor finished, dead-lettered once the dead letter is
    stored. (It comes first among the broker's middleware, so its ``after_`` hooks run last: after the
    retries decided and the dead-letter recorder stored.) A message failed with an exception and not failed
    for good was retried: its row stays pending with the retry."""

    def after_process_message(self, broker: Any, message: MessageProxy, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None and not message.failed:
            broker.finish(message, InboxStatus.DONE)

    def after_skip_message(self, broker: Any, message: MessageProxy) -> None:
        if not message.failed:
            broker.finish(message, InboxStatus.DONE)

    def after_nack(self, broker: Any, message: MessageProxy) -> None:
        if DEAD_LETTER_ID in message.options:
            broker.finish(message, InboxStatus.DEAD_LETTERED)
            return
        log.error("inbox_message_not_dead_lettered", message_id=message.message_id, actor=message.actor_name)
        broker.let_go(message)
