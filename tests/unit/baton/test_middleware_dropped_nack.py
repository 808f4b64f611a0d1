"""A nack dropped because the channel that delivered its message is gone dead-letters nothing: RabbitMQ delivers
the message again, so no dead letter is stored for it (it is kept when it fails again and its nack is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from structlog.testing import capture_logs

from adapters.store import Store, make_engine, upgrade_schema
from baton.acknowledgements import SETTLEMENT_DROPPED
from baton.middleware import DeadLetterRecorder
from kernel.clock import utc_now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade_schema(engine, None)
    yield Store(engine)
    engine.dispose()


def failed_message() -> MessageProxy:
    message = MessageProxy(dramatiq.Message(queue_name="bt.assign", actor_name="assign", args=({"contexts": []},),
                                            kwargs={}, options={"retries": 3}))
    message.fail()
    return message


def test_a_sent_nack_is_stored_as_a_dead_letter(store: Store) -> None:
    recorder = DeadLetterRecorder(lambda: store.administration, utc_now)
    message = failed_message()

    recorder.after_nack(StubBroker(middleware=[]), message)

    [letter] = store.administration.dead_letters()
    assert letter.message_id == message.message_id


def test_a_dropped_nack_stores_no_dead_letter(store: Store) -> None:
    recorder = DeadLetterRecorder(lambda: store.administration, utc_now)
    message = failed_message()
    setattr(message, SETTLEMENT_DROPPED, True)  # as ChannelBoundConsumer.nack marks it

    with capture_logs() as logs:
        recorder.after_nack(StubBroker(middleware=[]), message)

    assert store.administration.dead_letters() == []
    assert [entry["event"] for entry in logs] == ["dead_letter_not_recorded"]
