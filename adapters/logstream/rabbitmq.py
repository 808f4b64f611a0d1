"""The log stream on RabbitMQ: a durable topic exchange, persistent JSON bodies, publisher confirms.

Publishing: each worker thread keeps its own connection and confirm-mode channel (pika's blocking
connection is not thread-safe). A publish that fails is retried once on a fresh connection, then raised
as ``TransientError``, so the writeback stage retries the message (see docs/operations.md, "Operator commands").

Following: an exclusive, auto-delete queue bound with the follower's keys; it disappears with the follower.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from adapters.logstream.entries import StreamEntry, assignment_entries
from kernel.errors import TransientError
from messages import AssignmentLog

EXCHANGE_TYPE = "topic"
CONTENT_TYPE = "application/json"
PERSISTENT = pika.DeliveryMode.Persistent
POLL_S = 0.25


def _declare_exchange(channel: BlockingChannel, exchange: str) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type=EXCHANGE_TYPE, durable=True)


class RabbitmqLogSink:
    """The ``AssignmentSink`` of a RabbitMQ deployment; ``publish_entries`` takes any kind of log."""

    def __init__(self, url: str, exchange: str):
        self.url = url
        self.exchange = exchange
        self._local = threading.local()

    def publish(self, logs: Sequence[AssignmentLog]) -> None:
        self.publish_entries(assignment_entries(logs))

    def publish_entries(self, entries: Sequence[StreamEntry]) -> None:
        if not entries:
            return
        try:
            self._publish(entries)
        except (pika.exceptions.AMQPError, OSError):
            self._drop_channel()
            try:
                self._publish(entries)
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._drop_channel()
                raise TransientError(f"log stream: publish to exchange {self.exchange!r} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc

    def _publish(self, entries: Sequence[StreamEntry]) -> None:
        channel = self._channel()
        for entry in entries:
            channel.basic_publish(
                exchange=self.exchange,
                routing_key=entry.routing_key,
                body=json.dumps(entry.body, separators=(",", ":")).encode(),
                properties=pika.BasicProperties(
                    content_type=CONTENT_TYPE, delivery_mode=PERSISTENT, type=entry.kind,
                    message_id=entry.message_id, timestamp=int(time.time()),
                ),
            )

    def _channel(self) -> BlockingChannel:
        channel: BlockingChannel | None = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        self._drop_channel()
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        channel.confirm_delivery()
        _declare_exchange(channel, self.exchange)
        self._local.connection, self._local.channel = connection, channel
        return channel

    def _drop_channel(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.channel = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def close(self) -> None:
        self._drop_channel()


class LogFollower:
    """A live subscription: an exclusive auto-delete queue bound to ``keys``; iterate for (key, body)."""

    def __init__(self, url: str, exchange: str, keys: Sequence[str]):
        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        self._channel = self._connection.channel()
        _declare_exchange(self._channel, exchange)
        declared = self._channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        self.queue = declared.method.queue
        self.keys = list(keys)
        for key in self.keys:
            self._channel.queue_bind(queue=self.queue, exchange=exchange, routing_key=key)

    def entries(self, deadline: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Logs as they arrive, until ``deadline`` (time.monotonic()) if given; bodies that are not JSON are skipped."""
        for method, _properties, body in self._channel.consume(self.queue, auto_ack=True, inactivity_timeout=POLL_S):
            if deadline is not None and time.monotonic() >= deadline:
                return
            if method is None:
                continue
            try:
                entry = json.loads(body)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield method.routing_key, entry

    def close(self) -> None:
        if self._connection.is_open:
            try:
                self._connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass
