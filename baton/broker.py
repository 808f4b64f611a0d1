"""The broker: RabbitMQ (publisher confirms on; an ack or nack goes only to the channel that delivered its
message, ``baton/acknowledgements.py``) in production, in-process for the embedded default."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dramatiq import Broker
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
from baton.acknowledgements import ChannelBoundRabbitmqBroker
from baton.dead_letters import StoreCopyRetries
from baton.middleware import DeadLetterRecorder, GuardedRetries, WarmUp
from baton.settings import Settings
from kernel.ports.operations import DeadLetterRepository

STAGE_TIME_LIMIT_MS = 5 * 60_000


def build_broker(settings: Settings, store_factory: Callable[[], Store], clock: Callable[[], datetime],
                 warm_up: WarmUp | None = None) -> Broker:
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
        return ChannelBoundRabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware)
    return StubBroker(middleware=middleware)


def queue_name(settings: Settings, stage: str) -> str:
    return f"{settings.queue_prefix}.{stage}"
