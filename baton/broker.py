"""The broker: RabbitMQ (publisher confirms on) in production, in-process for the embedded default (with the
store's inbox under it when the process answers for work it accepted: the web process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dramatiq import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from adapters.store import Store
from baton.inbox import InboxBroker
from baton.middleware import DeadLetterRecorder, GuardedRetries, WarmUp
from baton.settings import Settings
from kernel.ports.inbox import InboxRepository

STAGE_TIME_LIMIT_MS = 5 * 60_000


def build_broker(settings: Settings, store_factory: Callable[[], Store], clock: Callable[[], datetime],
                 warm_up: WarmUp | None = None, inbox: InboxRepository | None = None) -> Broker:
    """RabbitMQ when a broker URL is set; else in process, storing every message in ``inbox`` first when one is
    given (``InboxBroker``)."""
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
        DeadLetterRecorder(lambda: store_factory().administration, clock),
        *([warm_up] if warm_up else []),
    ]
    if settings.uses_rabbitmq:
        return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware)
    if inbox is not None:
        return InboxBroker(inbox, clock, middleware)
    return StubBroker(middleware=middleware)


def queue_name(settings: Settings, stage: str) -> str:
    return f"{settings.queue_prefix}.{stage}"
