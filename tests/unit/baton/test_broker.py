"""A publish to RabbitMQ ends within its bound: a broker that accepts TCP and never answers costs one bounded wait
and a broker connection error (which HTTP answers with a 503 and a worker retries as an outage), not a thread."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.errors import BrokerConnectionError

from baton.broker import BOUNDED_WAITS, BoundedRabbitmqBroker, BrokerUnreachable, build_broker
from baton.settings import Settings
from tests.support.booking_races import SilentBroker, silent_broker

BOUND_S = 0.5


@pytest.fixture
def silent() -> Iterator[SilentBroker]:
    with silent_broker() as broker:
        yield broker


def publish_once(broker: BoundedRabbitmqBroker) -> float:
    actor = broker.get_actor("probe") if "probe" in broker.actors else dramatiq.actor(
        lambda: None, actor_name="probe", queue_name="probe", broker=broker)
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable) as refused:
        actor.send()
    assert isinstance(refused.value, BrokerConnectionError) and "RabbitMQ could not be reached" in str(refused.value)
    return time.monotonic() - started


def test_a_publish_to_a_broker_that_never_answers_fails_within_the_bound(silent: SilentBroker) -> None:
    broker = BoundedRabbitmqBroker(url=silent.url, timeout_s=BOUND_S, confirm_delivery=True, middleware=[])
    took_s = [publish_once(broker) for _ in range(2)]
    assert all(BOUND_S <= took < BOUND_S * 2 + 5 for took in took_s), took_s  # generous: a loaded machine
    assert len(silent.connections) == 2  # one bounded handshake a publish, no retry past the bound


def test_pikas_waits_are_the_bound_unless_the_url_sets_them() -> None:
    url = "amqp://guest:guest@127.0.0.1:5672/%2F?socket_timeout=3"
    broker = BoundedRabbitmqBroker(url=url, timeout_s=BOUND_S, middleware=[])
    waits = {name: getattr(broker.parameters, name) for name in BOUNDED_WAITS}
    assert waits == {"socket_timeout": 3.0, "stack_timeout": BOUND_S, "blocked_connection_timeout": BOUND_S}


def test_the_broker_of_the_settings_is_bounded_by_broker_timeout_ms(silent: SilentBroker) -> None:
    settings = Settings(broker_url=silent.url, broker_timeout_ms=750)
    broker = build_broker(settings, lambda: None, lambda: None)  # type: ignore[arg-type, return-value]
    assert isinstance(broker, BoundedRabbitmqBroker) and broker.timeout_s == 0.75
    assert broker.parameters.stack_timeout == 0.75


def test_within_a_publish_past_its_bound_no_new_connection_is_opened(silent: SilentBroker) -> None:
    """dramatiq reconnects up to six times a publish when a connection dies under it; past the bound it may not."""
    broker = BoundedRabbitmqBroker(url=silent.url, timeout_s=BOUND_S, middleware=[])
    broker.state.publish_deadline = time.monotonic() - 0.001  # as enqueue sets it, already passed
    with pytest.raises(BrokerUnreachable, match=r"took no message within 0.5 s \(BATON_BROKER_TIMEOUT_MS\)"):
        broker.connection  # noqa: B018
    assert silent.connections == []
