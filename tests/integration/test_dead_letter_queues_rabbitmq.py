"""Dead letters RabbitMQ holds in a stage's ``.XQ`` queue move into the store when ``baton dlq`` lists them:
each acknowledged only after its row committed, added once per message id, so a crash between the two, or a
copy the worker wrote meanwhile, never lists a letter twice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pika
import pytest

from adapters.dead_letter_queues import RabbitmqDeadLetterQueues
from adapters.store.administration import SqlAdministration
from baton.chains import CLASSIFY
from baton.dead_letters import move_dead_letter_queues
from kernel.clock import utc_now
from kernel.ports.operations import NewDeadLetter
from messages import RecordEvent
from tests.integration.conftest import Cluster
from tests.integration.test_listener_rabbitmq import wait_for_decision
from tests.integration.test_open_windows_outbox import baton_cli, dead_letter_queue_messages
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.outbox_windows import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def channel(rabbitmq_url: str, cluster: Cluster) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    cluster.producer.broker.declare_queue(CLASSIFY.queue(cluster.prefix), ensure=True)  # with its .DQ and .XQ
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    yield connection.channel()
    connection.close()


def dies_in_rabbitmq(cluster: Cluster, channel: pika.adapters.blocking_connection.BlockingChannel,
                     event: RecordEvent) -> str:
    """The event's message, taken from the classify queue and rejected as a worker does with a message that
    failed for good: RabbitMQ moves it to ``classify.XQ``. Returns its message id."""
    before = dead_letter_queue_messages(cluster.prefix)
    cluster.producer.publish([event], batch_size=1)
    method, _, body = channel.basic_get(CLASSIFY.queue(cluster.prefix), auto_ack=False)
    assert method is not None, "the published message is not in the classify queue"
    channel.basic_nack(method.delivery_tag, requeue=False)
    wait_until(lambda: dead_letter_queue_messages(cluster.prefix) == before + 1, "the message in classify.XQ")
    return str(json.loads(body)["message_id"])


def listed(cluster: Cluster) -> list[dict[str, object]]:
    ran = baton_cli(cluster, "dlq", "list", "--json")
    assert ran.returncode == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines() if line.strip()]


def test_a_dead_letter_only_rabbitmq_holds_is_listed_once_and_replayed(cluster: Cluster, channel) -> None:
    cluster.apply(team_config(members=2))
    message_id = dies_in_rabbitmq(cluster, channel, lead_event(1))

    first, again = listed(cluster), listed(cluster)

    [letter] = first
    assert again == first and dead_letter_queue_messages(cluster.prefix) == 0
    assert (letter["stage"], letter["records"]) == (CLASSIFY.name, 1)
    assert "rejected into" in str(letter["reason"]) and "moved into the store from RabbitMQ" in str(letter["reason"])
    [stored] = cluster.store.administration.dead_letters()
    assert stored.message_id == message_id and stored.routing_ids == [lead_event(1).routing_id]
    cluster.start_worker(threads=2)
    assert baton_cli(cluster, "dlq", "replay", str(letter["id"])).returncode == 0
    assert wait_for_decision(cluster, lead_event(1).routing_id)["outcome"] == "assigned"


class Crash(Exception):
    """The mover's process dying right after the row committed, before RabbitMQ heard the ack."""


class CrashingAfterCommit:
    """The store's dead letters, for a mover that dies just after its first row committed."""

    def __init__(self, administration: SqlAdministration):
        self.administration = administration

    def add_dead_letter_once(self, letter: NewDeadLetter) -> tuple[int, bool]:
        self.administration.add_dead_letter_once(letter)
        raise Crash(letter.message_id)


def test_a_crash_between_the_row_and_the_ack_does_not_list_the_letter_twice(
    cluster: Cluster, channel, rabbitmq_url: str
) -> None:
    message_ids = [dies_in_rabbitmq(cluster, channel, lead_event(number)) for number in (1, 2)]
    queues = RabbitmqDeadLetterQueues(rabbitmq_url)

    with pytest.raises(Crash):
        move_dead_letter_queues(queues, CrashingAfterCommit(cluster.store.administration), cluster.prefix, utc_now)
    assert len(cluster.store.administration.dead_letters()) == 1  # the first row committed
    wait_until(lambda: dead_letter_queue_messages(cluster.prefix) == 2, "both messages back in classify.XQ")

    letters = listed(cluster)

    assert sorted(str(letter.message_id) for letter in cluster.store.administration.dead_letters()) == sorted(message_ids)
    assert len(letters) == 2 and dead_letter_queue_messages(cluster.prefix) == 0


def test_a_message_already_stored_is_only_removed_from_rabbitmq(cluster: Cluster, channel, rabbitmq_url: str) -> None:
    """The usual case: the worker stored its copy when the message died, and RabbitMQ keeps one too."""
    dies_in_rabbitmq(cluster, channel, lead_event(1))
    first = move_dead_letter_queues(RabbitmqDeadLetterQueues(rabbitmq_url), cluster.store.administration,
                                    cluster.prefix, utc_now)
    [letter] = cluster.store.administration.dead_letters()
    cluster.store.administration.mark_replayed(letter.id, utc_now())
    channel.basic_publish("", CLASSIFY.queue(cluster.prefix) + ".XQ", json.dumps(letter.message).encode())
    wait_until(lambda: dead_letter_queue_messages(cluster.prefix) == 1, "RabbitMQ's copy of the replayed letter")

    second = move_dead_letter_queues(RabbitmqDeadLetterQueues(rabbitmq_url), cluster.store.administration,
                                     cluster.prefix, utc_now)

    assert (len(first.added), first.already_stored, second.added, second.already_stored) == (1, 0, [], 1)
    assert listed(cluster) == [] and len(cluster.store.administration.dead_letters(include_replayed=True)) == 1
    assert dead_letter_queue_messages(cluster.prefix) == 0


def test_a_message_that_is_not_batons_stays_in_rabbitmq_and_is_named(cluster: Cluster, channel) -> None:
    channel.basic_publish("", CLASSIFY.queue(cluster.prefix) + ".XQ", b"not a dramatiq message")
    wait_until(lambda: dead_letter_queue_messages(cluster.prefix) == 1, "the stray message in classify.XQ")

    ran = baton_cli(cluster, "dlq", "list", "--json")

    assert ran.returncode == 0 and ran.stdout == ""
    assert f"left in RabbitMQ (not a Baton message): {CLASSIFY.queue(cluster.prefix)}.XQ" in ran.stderr
    assert dead_letter_queue_messages(cluster.prefix) == 1


def test_the_schedulers_round_moves_a_dead_letter_only_rabbitmq_holds_into_the_store(cluster: Cluster,
                                                                                    channel) -> None:
    """Nobody runs ``baton dlq``: the scheduler's round moves the ``.XQ`` queues into the store itself."""
    cluster.apply(team_config(members=2))
    message_id = dies_in_rabbitmq(cluster, channel, lead_event(1))

    ran = baton_cli(cluster, "scheduler", "--once")

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1])["dead_letters_moved"] == 1
    assert [letter.message_id for letter in cluster.store.administration.dead_letters()] == [message_id]
    assert dead_letter_queue_messages(cluster.prefix) == 0
