"""baton/acknowledgements.py on real RabbitMQ: an ack or nack goes only to the channel that delivered its message.

Each test does what dramatiq's consumer thread does when its connection fails: the first consumer takes two
messages and is closed, a second consumer (a new channel, whose delivery tags start again at 1) takes them again
under the same tags, and then a message proxy of the first consumer is acked or nacked through the second, as
dramatiq's worker thread does. Whether an ack reached RabbitMQ is read from the queue once the consumer is closed
(``rabbitmqctl``: ready plus unacknowledged messages), so nothing waits on time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import dramatiq
import pika
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer, dq_name, xq_name

from baton.acknowledgements import (
    ChannelBoundConsumer,
    ChannelBoundRabbitmqBroker,
    delivered_on,
    settlement_dropped,
)
from tests.support.services import queue_depths, unique_prefix

pytestmark = pytest.mark.integration

MESSAGES = 3
PREFETCH = 2
WAIT_S = 30.0


@dataclass
class Queue:
    url: str
    name: str
    broker: RabbitmqBroker

    def consume(self) -> _RabbitmqConsumer:
        return self.broker.consume(self.name, prefetch=PREFETCH, timeout=1000)

    def depth(self, name: str | None = None) -> int:
        """Ready plus unacknowledged messages in the queue (or in ``name``, one of its sibling queues)."""
        return queue_depths(self.name.rsplit(".", 1)[0]).get(name or self.name, 0)

    def settles_at(self, expected: int, name: str | None = None) -> int:
        """The depth, once it is ``expected`` (or what it is after WAIT_S): closed channels requeue at once."""
        deadline = time.monotonic() + WAIT_S
        while (depth := self.depth(name)) != expected and time.monotonic() < deadline:
            time.sleep(0.1)
        return depth


def take(consumer: _RabbitmqConsumer, count: int = PREFETCH) -> list[MessageProxy]:
    """The next ``count`` deliveries of ``consumer``, in order."""
    taken: list[MessageProxy] = []
    deadline = time.monotonic() + WAIT_S
    while len(taken) < count and time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            taken.append(message)
    assert len(taken) == count, f"only {len(taken)} of {count} messages delivered"
    return taken


@pytest.fixture
def queue(rabbitmq_url: str) -> Iterator[Queue]:
    name = f"{unique_prefix()}.work"
    broker = ChannelBoundRabbitmqBroker(url=rabbitmq_url, confirm_delivery=True, middleware=[])
    broker.declare_queue(name)
    for n in range(1, MESSAGES + 1):
        broker.enqueue(dramatiq.Message(queue_name=name, actor_name="work", args=(n,), kwargs={}, options={}))
    yield Queue(rabbitmq_url, name, broker)
    broker.close()
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    for queue_name in (name, dq_name(name), xq_name(name)):
        channel.queue_delete(queue=queue_name)
    connection.close()


def reconnected(queue: Queue) -> tuple[list[MessageProxy], _RabbitmqConsumer, list[MessageProxy]]:
    """Two messages taken by a first consumer that is then closed, and a second consumer that took them again
    under the same delivery tags."""
    first = queue.consume()
    old = take(first)
    first.close()
    second = queue.consume()
    new = take(second)
    assert [m.args for m in new] == [m.args for m in old], (old, new)
    assert [m._tag for m in new] == [m._tag for m in old] == [1, 2], "the new channel's tags restart at 1"
    assert all(m.redelivered for m in new)
    return old, second, new


def test_the_consumer_is_channel_bound_and_stamps_what_it_delivers(queue: Queue) -> None:
    first = queue.consume()
    second = queue.consume()
    assert isinstance(first, ChannelBoundConsumer) and isinstance(second, ChannelBoundConsumer)
    assert first.generation != second.generation
    [message] = take(first, 1)
    assert delivered_on(message) == first.generation
    first.close()
    second.close()


def test_an_ack_after_a_reconnect_is_dropped_not_sent_under_the_new_channels_tag(queue: Queue) -> None:
    old, second, _ = reconnected(queue)

    second.ack(old[0])

    assert settlement_dropped(old[0])
    assert second.known_tags == {1, 2}, "the new channel's message under tag 1 is still unacknowledged"
    second.close()
    assert queue.settles_at(MESSAGES) == MESSAGES, "no message may be acknowledged"


def test_a_nack_after_a_reconnect_is_dropped_and_dead_letters_nothing(queue: Queue) -> None:
    old, second, _ = reconnected(queue)

    second.nack(old[1])

    assert settlement_dropped(old[1])
    second.close()
    assert queue.settles_at(MESSAGES) == MESSAGES
    assert queue.depth(xq_name(queue.name)) == 0, "another message was dead-lettered under the old tag"


def test_the_new_channels_own_deliveries_are_acked_and_nacked(queue: Queue) -> None:
    _, second, new = reconnected(queue)

    second.ack(new[0])
    second.nack(new[1])

    assert not settlement_dropped(new[0]) and not settlement_dropped(new[1])
    second.close()
    assert queue.settles_at(MESSAGES - 2) == MESSAGES - 2
    assert queue.settles_at(1, xq_name(queue.name)) == 1, "the nacked message is dead-lettered"


def test_an_ack_on_the_closed_channel_that_delivered_it_is_dropped_without_an_error(queue: Queue) -> None:
    """dramatiq's own consumer raises ConnectionClosed here, and its worker retries the ack every 5 s until the
    consumer thread has a new consumer, where the old tag names another message."""
    first = queue.consume()
    [message] = take(first, 1)
    first.close()

    first.ack(message)

    assert settlement_dropped(message)
    assert queue.settles_at(MESSAGES) == MESSAGES


def test_dramatiqs_own_consumer_acknowledges_another_delivery_under_the_old_tag(rabbitmq_url: str,
                                                                                queue: Queue) -> None:
    """The premise: with dramatiq's consumer (2.2.1) the same ack names tag 1 on the new channel and RabbitMQ
    acknowledges the message the new channel delivered under it. When this fails, dramatiq has changed and
    baton/acknowledgements.py should be looked at again."""
    plain = Queue(rabbitmq_url, queue.name, RabbitmqBroker(url=rabbitmq_url, confirm_delivery=True, middleware=[]))
    old, second, _ = reconnected(plain)

    second.ack(old[0])

    assert second.known_tags == {2}
    second.close()
    plain.broker.close()
    assert queue.settles_at(MESSAGES - 1) == MESSAGES - 1
