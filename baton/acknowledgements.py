"""RabbitMQ acks and nacks that go only to the channel that delivered the message.

dramatiq's worker thread settles a message through whatever consumer its consumer thread holds *now*
(``ConsumerThread.post_process_message`` reads ``self.consumer`` when the message is done). When the
consumer's connection dies while a message is processed, the consumer thread opens a new connection and
channel, whose delivery tags start again at 1, and the finished message's ack then names its old tag on the
new channel: if that tag is known there, RabbitMQ acknowledges (or a nack dead-letters) another delivery that
nobody processed. dramatiq's own retry of a failed ack (every 5 s, on ``ConnectionClosed``) reaches the new
consumer the same way.

Here each consumer is one channel generation: every message it delivers carries its generation, and an ack or
nack is sent only by the consumer of that generation while its channel is open. Otherwise it is dropped (and
logged): the channel that delivered the message is closed, so RabbitMQ has put the message back and delivers it
again. That is at-least-once delivery, which Baton's stages already handle (they are idempotent); a tag is never
sent on a channel that did not deliver it. ``settlement_dropped`` tells middleware (the dead-letter recorder)
that a nack was not sent.
"""

from __future__ import annotations

import itertools
from typing import Any

import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer

log = structlog.get_logger(__name__)

DELIVERED_ON = "baton_delivered_on"
SETTLEMENT_DROPPED = "baton_settlement_dropped"


def delivered_on(message: MessageProxy) -> int | None:
    """The channel generation that delivered ``message`` (None for a message no bound consumer delivered)."""
    generation = getattr(message, DELIVERED_ON, None)
    return generation if isinstance(generation, int) else None


def settlement_dropped(message: MessageProxy) -> bool:
    """Whether ``message``'s ack or nack was dropped because the channel that delivered it is gone."""
    return getattr(message, SETTLEMENT_DROPPED, False) is True


class ChannelBoundConsumer(_RabbitmqConsumer):
    """A RabbitMQ consumer that acks and nacks only the messages its own channel delivered, while it is open."""

    _generations = itertools.count(1)

    def __init__(self, broker: RabbitmqBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.generation = next(ChannelBoundConsumer._generations)

    def __next__(self) -> MessageProxy | None:
        message: MessageProxy | None = super().__next__()
        if message is not None:
            setattr(message, DELIVERED_ON, self.generation)
        return message

    def ack(self, message: MessageProxy) -> None:
        if self._may_settle(message, "ack"):
            super().ack(message)

    def nack(self, message: MessageProxy) -> None:
        if self._may_settle(message, "nack"):
            super().nack(message)

    @property
    def channel_open(self) -> bool:
        return bool(self.connection.is_open and self.channel.is_open)

    def _may_settle(self, message: MessageProxy, settlement: str) -> bool:
        generation = delivered_on(message)
        if generation == self.generation and self.channel_open:
            return True
        setattr(message, SETTLEMENT_DROPPED, True)
        log.warning(
            f"{settlement}_dropped",
            reason=("another channel delivered it (the consumer has reconnected since)"
                    if generation != self.generation else "the channel that delivered it is closed"),
            message_id=message.message_id,
            actor=message.actor_name,
            queue=message.queue_name,
            delivery_tag=getattr(message, "_tag", None),
            delivered_on=generation,
            current_channel=self.generation,
        )
        return False


class ChannelBoundRabbitmqBroker(RabbitmqBroker):
    """dramatiq's RabbitMQ broker whose consumers send an ack or nack only on the channel that delivered it."""

    @property
    def consumer_class(self) -> Any:
        return ChannelBoundConsumer
