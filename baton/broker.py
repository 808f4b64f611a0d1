"""The broker: RabbitMQ (publisher confirms on, every publish bounded in time, an ack or nack only to the
channel that delivered its message: ``baton/acknowledgements.py``) in production; in process for the embedded
default (with the store's inbox under it when the process answers for work it accepted: the web process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pika
from dramatiq import Broker, Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from adapters.store import Store
from baton.acknowledgements import ChannelBoundRabbitmqBroker
from baton.dead_letters import StoreCopyRetries
from baton.inbox import InboxBroker
from baton.middleware import DeadLetterRecorder, GuardedRetries, WarmUp
from baton.settings import Settings
from kernel.ports.inbox import InboxRepository
from kernel.ports.operations import DeadLetterRepository

STAGE_TIME_LIMIT_MS = 5 * 60_000
# pika's waits a broker that never answers would otherwise make endless (or 10 s and 15 s, the defaults):
BOUNDED_WAITS = ("socket_timeout", "stack_timeout", "blocked_connection_timeout")


class BrokerUnreachable(ConnectionClosed):
    """RabbitMQ did not take a message: no connection within the publish bound (BATON_BROKER_TIMEOUT_MS), or pika
    could not open one (a TCP or AMQP handshake timeout). A broker connection error like dramatiq's own, so an HTTP
    sender gets a 503 and retries, and a worker retries the message as in any broker outage."""


class BoundedRabbitmqBroker(ChannelBoundRabbitmqBroker):
    """dramatiq's RabbitMQ broker whose publish ends within about ``timeout_s``, even against a broker that accepts
    TCP and never answers, or one that blocks publishers (a resource alarm).

    pika waits for the TCP connect (``socket_timeout``), the AMQP handshake (``stack_timeout``) and a blocked
    connection (``blocked_connection_timeout``) at most ``timeout_s`` each, unless the URL sets them; and
    dramatiq's reconnect-and-retry loop (up to six connections a publish) opens no new connection once
    ``timeout_s`` has passed since the publish began. Either way the publish raises ``BrokerUnreachable``. A publish thus takes at most
    about twice ``timeout_s`` (a last connection begun just before the bound). A peer that completes the handshake
    and then falls silent is caught by the AMQP heartbeat RabbitMQ proposes (60 s by default)."""

    def __init__(self, *, url: str, timeout_s: float, **options: Any):
        super().__init__(url=url, **options)
        self.timeout_s = timeout_s
        each = self.parameters if isinstance(self.parameters, list) else [self.parameters]
        for parameters, one_url in zip(each, url.split(";"), strict=True):
            bound(parameters, timeout_s, keep=set(parse_qs(urlsplit(one_url).query)))

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        self.state.publish_deadline = time.monotonic() + self.timeout_s
        try:
            return super().enqueue(message, delay=delay)
        except AMQPConnectorException as exc:  # pika's connect or handshake timeout, which dramatiq does not catch
            raise BrokerUnreachable(f"RabbitMQ could not be reached: {type(exc).__name__}: {exc}") from exc
        finally:
            self.state.publish_deadline = None

    @property
    def connection(self) -> pika.BlockingConnection:
        """This thread's connection; within a publish past its bound, no new one: BrokerUnreachable."""
        deadline = getattr(self.state, "publish_deadline", None)
        if getattr(self.state, "connection", None) is None and deadline is not None and time.monotonic() >= deadline:
            raise BrokerUnreachable(f"RabbitMQ took no message within {self.timeout_s:g} s "
                                  "(BATON_BROKER_TIMEOUT_MS)")
        return super().connection

    @connection.deleter
    def connection(self) -> None:
        RabbitmqBroker.connection.fdel(self)  # type: ignore[attr-defined]


def bound(parameters: pika.ConnectionParameters, timeout_s: float, keep: Collection[str] = ()) -> None:
    """Sets pika's connection waits to ``timeout_s``, but those named in ``keep`` (set by the URL)."""
    for name in BOUNDED_WAITS:
        if name not in keep:
            setattr(parameters, name, timeout_s)


def build_broker(settings: Settings, store_factory: Callable[[], Store], clock: Callable[[], datetime],
                 warm_up: WarmUp | None = None, inbox: InboxRepository | None = None) -> Broker:
    """RabbitMQ when a broker URL is set; else in process, storing every message in ``inbox`` first when one is
    given (``InboxBroker``)."""
    def dead_letters() -> DeadLetterRepository:
        return store_factory().administration

    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=STAGE_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        GuardedRetries(
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
            wait_s=settings.retry_enqueue_wait_ms / 1000,
            outage_ms=settings.retry_outage_ms,
        ),
        CurrentMessage(),
        DeadLetterRecorder(dead_letters, clock, StoreCopyRetries(dead_letters, settings.min_backoff_ms / 1000,
                                                                 settings.max_backoff_ms / 1000)),
        *([warm_up] if warm_up else []),
    ]
    if settings.uses_rabbitmq:
        return BoundedRabbitmqBroker(url=settings.broker_url, timeout_s=settings.broker_timeout_ms / 1000,
                                     confirm_delivery=True, middleware=middleware)
    if inbox is not None:
        return InboxBroker(inbox, clock, middleware)
    return StubBroker(middleware=middleware)


def queue_name(settings: Settings, stage: str) -> str:
    return f"{settings.queue_prefix}.{stage}"
