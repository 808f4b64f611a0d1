"""A closed window: an acknowledgement that outlives its consumer's connection acknowledged another message.

dramatiq's worker thread acknowledges through whatever consumer its consumer thread holds *now*. When the
consumer's AMQP connection dies while message X is being processed, the consumer thread reconnects (after
``CONSUMER_RESTART_DELAY_SECS``) with a new channel whose delivery tags restart at 1; X's ack then named X's old
tag on the new channel, and if that tag was known there it acknowledged a different delivery Y that nobody had
processed. RabbitMQ forgot Y; when the worker died before it reached its stale copy of Y, Y was lost.

Baton's broker (``baton/acknowledgements.py``) sends an ack only on the channel that delivered its message: X's
ack is dropped (RabbitMQ delivers X again, since its channel closed), and Y stays queued until it is processed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dramatiq
import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker, dq_name, xq_name

from tests.support.rabbitmq_probe import wait_for_unacked
from tests.support.service_control import host_port
from tests.support.services import ServiceProcess, queue_depths, unique_prefix, worker_env
from tests.support.tcp_proxy import TcpProxy
from tests.support.windows import assert_window_closed

pytestmark = pytest.mark.fault

MESSAGES = 5
WAIT_S = 45
T = TypeVar("T")
WINDOW = "an ack after a consumer reconnect acknowledges another message (lost when the worker then dies)"


@dataclass(frozen=True)
class ConsumerSeen:
    """What the worker's report says of its consumer: which object, its known delivery tags, and the messages
    waiting in the work queue as (n, delivery tag, redelivered)."""

    consumer: int | None = None
    known_tags: tuple[int, ...] = ()
    waiting: tuple[tuple[int, int, bool], ...] = ()

    def owners_of(self, tag: int) -> list[int]:
        """The redelivered waiting messages that carry ``tag``."""
        return [n for n, their_tag, redelivered in self.waiting if their_tag == tag and redelivered]


@dataclass
class Scene:
    """The worker's shared directory (gates, events log, consumer report) and its queue."""

    directory: Path
    queue: str

    def open_gate(self, name: int | str) -> None:
        (self.directory / f"gate-{name}").touch()

    def events(self) -> list[list[str]]:
        path = self.directory / "events.log"
        return [line.split() for line in path.read_text().splitlines()] if path.exists() else []

    def started(self, n: int) -> list[list[str]]:
        return [e for e in self.events() if e[:2] == ["started", str(n)]]

    def finished(self) -> set[int]:
        return {int(e[1]) for e in self.events() if e[0] == "finished"}

    def ack_of(self, n: int) -> str | None:
        """How the worker settled message ``n``'s first ack: ``sent`` or ``dropped`` (None before it did)."""
        return next((e[2] for e in self.events() if e[:2] == ["acked", str(n)]), None)

    def consumer(self) -> ConsumerSeen:
        path = self.directory / "consumer.json"
        if not path.exists():
            return ConsumerSeen()
        report = json.loads(path.read_text())
        return ConsumerSeen(report["consumer"], tuple(report["known_tags"]),
                            tuple((n, tag, redelivered) for n, tag, redelivered in report["waiting"]))

    def consumer_when(self, what: str, seen: Callable[[ConsumerSeen], bool]) -> ConsumerSeen:
        """The worker's consumer report once ``seen`` holds of it."""
        return wait_for(what, lambda: report if seen(report := self.consumer()) else None)

    def depth(self) -> int:
        return queue_depths(self.queue.rsplit(".", 1)[0]).get(self.queue, -1)

    def worker(self, url: str, log: Path) -> ServiceProcess:
        env = worker_env(url, "", "", "", MISACK_BROKER_URL=url, MISACK_DIR=str(self.directory),
                         MISACK_QUEUE=self.queue)
        return ServiceProcess(env, log, ["dramatiq", "tests.support.misack_app", "-p", "1", "-t", "1"]).start()


def wait_for(what: str, check: Callable[[], T | None], within_s: float = WAIT_S) -> T:
    """``check()``'s first truthy answer, asked every 50 ms; fails naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"not seen within {within_s} s: {what}")


def publish(url: str, queue: str, count: int) -> None:
    """Messages work(1..count), straight to RabbitMQ (not through the proxy), confirmed."""
    broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=[])
    broker.declare_queue(queue)
    for n in range(1, count + 1):
        broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="work", args=(n,), kwargs={}, options={}))
    broker.close()


def delete_queue(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in (queue, dq_name(queue), xq_name(queue)):
        channel.queue_delete(queue=name)
    connection.close()


@pytest.fixture
def scene(rabbitmq_url: str, tmp_path: Path) -> Iterator[Scene]:
    scene = Scene(tmp_path, f"{unique_prefix()}.work")
    yield scene
    delete_queue(rabbitmq_url, scene.queue)


def test_an_ack_after_a_consumer_reconnect_does_not_acknowledge_another_message(
        scene: Scene, rabbitmq_url: str, tmp_path: Path) -> None:
    """Message 2 is in progress when its consumer's connection is cut; it finishes after the consumer has
    reconnected and the worker is then killed: every message must still be processed at least once."""
    publish(rabbitmq_url, scene.queue, MESSAGES)
    prefix = scene.queue.rsplit(".", 1)[0]
    proxy = TcpProxy(host_port(rabbitmq_url, 5672))
    scene.open_gate(1)
    first = scene.worker(proxy.url_for(rabbitmq_url), tmp_path / "worker-1.log")
    try:
        # Message 1 finished and acked; message 2 waits at its gate; 2 and 3 are delivered (prefetch 2).
        started_2 = wait_for("message 2 started after message 1 finished",
                             lambda: scene.started(2) if 1 in scene.finished() else None)
        old_tag = int(started_2[0][2])
        old = scene.consumer_when("the first consumer knows message 2's and 3's tags",
                                  lambda c: len(c.known_tags) == 2)
        assert old_tag in old.known_tags, (old_tag, old)
        held = wait_for_unacked(prefix, WAIT_S)
        assert sorted(held.values()) == [2], f"one consumer connection should hold messages 2 and 3: {held}"

        severed = proxy.cut(only=lambda c: c.upstream_port in held, unacked=held)
        assert (severed.connections, severed.consumers_with_unacked, severed.unacked) == (1, 1, 2), severed

        # The consumer thread reconnects: a new consumer, whose redelivered messages reuse the old tag numbers.
        new = scene.consumer_when("a new consumer holding two messages, one under message 2's old tag",
                                  lambda c: c.consumer != old.consumer and old_tag in c.known_tags
                                  and len(c.known_tags) == 2 and bool(c.owners_of(old_tag)))
        owners = new.owners_of(old_tag)
        assert len(owners) == 1 and owners[0] != 2, f"old tag {old_tag} should now be another message's: {new}"
        victim = owners[0]
        reheld = wait_for_unacked(prefix, WAIT_S)
        assert set(reheld) - set(held) and sorted(reheld.values()) == [2], f"{held} then {reheld}"
        depth_before = scene.depth()
        assert depth_before == MESSAGES - 1, depth_before

        # Message 2 finishes after the reconnect. Its ack is either dropped (the channel that delivered it is gone)
        # or sent: then it names old_tag on the new channel, which RabbitMQ takes as the victim's (the queue shrinks).
        scene.open_gate(2)
        ack = wait_for("message 2's ack dropped, or sent and taken by RabbitMQ",
                       lambda: scene.ack_of(2) if scene.ack_of(2) == "dropped" or scene.depth() < depth_before
                       else None)
        assert scene.depth() >= depth_before - 1, f"at most one message should be acked: {scene.depth()}"
        if ack == "sent":
            after = scene.consumer()
            assert old_tag not in after.known_tags, f"the ack should have used the new consumer's tag: {after}"
        assert victim not in scene.finished(), f"message {victim} finished, the scenario broke: {scene.events()}"
        first.kill()
    finally:
        first.kill()
        proxy.close()

    scene.open_gate("all")
    second = scene.worker(rabbitmq_url, tmp_path / "worker-2.log")
    try:
        wait_for("the queue drained", lambda: scene.depth() == 0 or None)
    finally:
        second.stop()
    lost = sorted(set(range(1, MESSAGES + 1)) - scene.finished())
    assert_window_closed(not lost, WINDOW,
                         f"message 2's ack after the reconnect was {ack} (its old tag {old_tag} is message {victim}'s "
                         f"on the new channel); messages never processed: {lost}; events: {scene.events()}")
