"""RabbitMQ's dead-letter queues (dramatiq's ``<queue>.XQ``), read one message at a time.

dramatiq nacks a message that failed for good into its queue's ``.XQ`` queue, where it expires after 7 days.
Baton keeps its own copy in the store; this reads what RabbitMQ holds so that a message whose copy was never
written can be stored after all. Each message is taken with ``basic_get`` and acknowledged only after the
caller's ``take`` returned (its row committed): a crash in between leaves it in the queue, to be taken again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from kernel.errors import TransientError

DRAMATIQ_FIELDS = ("message_id", "queue_name", "actor_name")
NOT_FOUND = 404
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class QueuedDeadLetter:
    """One message of a dead-letter queue: dramatiq's message as it was last enqueued, and what RabbitMQ's
    ``x-death`` header says about its death (the first entry: the latest)."""

    dead_letter_queue: str
    message: dict[str, Any]
    died_at: datetime | None = None
    death: str | None = None  # "rejected" (nacked by a worker), "expired", ...

    @property
    def message_id(self) -> str:
        return str(self.message["message_id"])


@dataclass
class DrainReport:
    """What one pass over the dead-letter queues did."""

    taken: int = 0
    unreadable: list[str] = field(default_factory=list)  # left in their queue: not a dramatiq message
    missing_queues: list[str] = field(default_factory=list)  # never declared (nothing ever died there)


def decode(queue: str, body: bytes, headers: dict[str, Any] | None) -> QueuedDeadLetter | None:
    """The dead letter a body holds, or None when it is not a dramatiq message."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(message, dict) or not all(isinstance(message.get(key), str) and message[key]
                                                for key in DRAMATIQ_FIELDS):
        return None
    deaths = (headers or {}).get("x-death")
    latest = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    died_at, reason = latest.get("time"), latest.get("reason")
    if isinstance(reason, bytes):
        reason = reason.decode(errors="replace")
    return QueuedDeadLetter(queue, message, died_at if isinstance(died_at, datetime) else None,
                            reason if isinstance(reason, str) else None)


class RabbitmqDeadLetterQueues:
    """The dead-letter queues of one RabbitMQ (``url``), on a connection of their own per pass."""

    def __init__(self, url: str):
        self.url = url

    def drain(self, queues: Iterable[str], take: Callable[[QueuedDeadLetter], None]) -> DrainReport:
        """Hands each message of ``queues`` that was there when the pass reached its queue to ``take``, and
        acknowledges it once ``take`` returned. A message that is not dramatiq's is left where it is. When
        ``take`` raises, the pass stops and the message stays in its queue (with every other one not taken);
        RabbitMQ trouble raises TransientError."""
        report = DrainReport()
        parameters = pika.URLParameters(self.url)
        parameters.socket_timeout = parameters.blocked_connection_timeout = CONNECT_TIMEOUT_S
        try:
            connection = pika.BlockingConnection(parameters)
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise TransientError(f"RabbitMQ's dead-letter queues cannot be read: {type(exc).__name__}: {exc}") from exc
        try:
            for queue in queues:
                self._drain_queue(connection, queue, take, report)
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise TransientError(f"reading RabbitMQ's dead-letter queues failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if connection.is_open:
                connection.close()  # what was got and not acknowledged goes back to its queue
        return report

    @staticmethod
    def _drain_queue(connection: pika.BlockingConnection, queue: str, take: Callable[[QueuedDeadLetter], None],
                     report: DrainReport) -> None:
        channel = connection.channel()
        try:
            waiting = channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != NOT_FOUND:
                raise
            report.missing_queues.append(queue)
            return
        try:
            for _ in range(waiting):  # only what was there: never chase messages dying meanwhile
                if not _take_one(channel, queue, take, report):
                    break
        finally:
            if channel.is_open:
                channel.close()


def _take_one(channel: BlockingChannel, queue: str, take: Callable[[QueuedDeadLetter], None],
              report: DrainReport) -> bool:
    method, properties, body = channel.basic_get(queue, auto_ack=False)
    if method is None:
        return False
    letter = decode(queue, body, properties.headers)
    if letter is None:  # not acknowledged: it returns to the queue when the channel closes
        report.unreadable.append(f"{queue} #{method.delivery_tag}")
        return True
    take(letter)
    channel.basic_ack(method.delivery_tag)
    report.taken += 1
    return True
