"""The per-stage dead-letter counter counts nacks that were sent, not nacks dropped because the channel that
delivered their message is gone (RabbitMQ delivers that message again)."""

from __future__ import annotations

import uuid

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from prometheus_client import REGISTRY

from baton.acknowledgements import SETTLEMENT_DROPPED
from baton.operations.metrics.middleware import StageMetrics


def dead_letters_counted(stage: str) -> float:
    return REGISTRY.get_sample_value("baton_dead_letters_total", {"stage": stage}) or 0.0


def test_a_sent_nack_counts_a_dead_letter_and_a_dropped_one_does_not() -> None:
    stage = f"stage_{uuid.uuid4().hex[:8]}"  # a label of its own: the counter is process-wide
    metrics, broker = StageMetrics(), StubBroker(middleware=[])
    sent, dropped = (MessageProxy(dramatiq.Message(queue_name=f"bt.{stage}", actor_name=stage, args=(),
                                                   kwargs={}, options={})) for _ in range(2))
    setattr(dropped, SETTLEMENT_DROPPED, True)  # as ChannelBoundConsumer.nack marks it

    metrics.after_nack(broker, sent)
    metrics.after_nack(broker, dropped)

    assert dead_letters_counted(stage) == 1
