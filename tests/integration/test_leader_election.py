"""One active singleton per name on PostgreSQL: advisory-lock election, hand-over, and two real listeners."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.leader import LeaderLock
from entrypoints.listener import ChannelListener
from tests.support import cdc_samples as cdc
from tests.support.fake_cometd import fake_streaming_org

pytestmark = pytest.mark.integration
CHANNEL = cdc.LEAD_CHANNEL


@pytest.fixture
def engine(postgres_url: str, pg_schema: str) -> Iterator[sa.Engine]:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    yield engine
    engine.dispose()


def test_only_one_lock_holder_per_name_and_release_hands_over(engine: sa.Engine) -> None:
    first, second = LeaderLock(engine, "flusher"), LeaderLock(engine, "flusher")
    other = LeaderLock(engine, "scheduler")

    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert other.try_acquire() is True  # another name is another election
    first.release()
    assert second.try_acquire() is True and second.still_held()
    second.release()
    other.release()


def test_a_leader_whose_connection_dies_loses_the_lock_to_a_replica(engine: sa.Engine) -> None:
    leader, replica = LeaderLock(engine, "listen:x"), LeaderLock(engine, "listen:x")
    assert leader.try_acquire()
    key = leader.key
    assert key is not None
    with engine.connect() as admin:  # kill only the backend holding this test's lock
        pids = admin.execute(sa.text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :high AND objid = :low"),
            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).scalars().all()
        assert len(pids) == 1
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})

    assert leader.still_held() is False and leader.held is False
    assert replica.try_acquire() is True
    replica.release()


def test_the_same_name_in_another_schema_is_another_lock(engine: sa.Engine, postgres_url: str) -> None:
    elsewhere = make_engine(postgres_url, "public")
    try:
        with LeaderLock(engine, "listen:y") as here, LeaderLock(elsewhere, "listen:y") as there:
            assert here.held and there.held
    finally:
        elsewhere.dispose()


def test_two_listeners_on_one_channel_only_one_subscribes_and_the_other_takes_over(engine: sa.Engine) -> None:
    broker = StubBroker()
    dramatiq.Actor(lambda batch: None, broker=broker, actor_name="classify", queue_name="classify",
                   priority=0, options={})
    store = Store(engine)
    with fake_streaming_org() as org:
        org.known_channels.add(CHANNEL)
        listeners = [ChannelListener(CHANNEL, store, broker, org.client, standby_s=0.1,
                                     backoff_min_s=0.05, backoff_max_s=0.2) for _ in range(2)]
        threads = [threading.Thread(target=listener.run, daemon=True) for listener in listeners]
        for thread in threads:
            thread.start()
        try:
            org.wait_for(lambda: len(org.subscriptions) == 1)
            first = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-1"))
            org.wait_for(lambda: _replay_id(store) == first)
            time.sleep(0.6)  # the replica retried the lock several times meanwhile
            assert len(org.subscriptions) == 1 and org.handshakes == 1

            leader = next(listener for listener in listeners if listener.enqueued == 1)
            leader.stop.set()
            threads[listeners.index(leader)].join(10)
            org.wait_for(lambda: len(org.subscriptions) == 2)
            second = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-2"))
            org.wait_for(lambda: _replay_id(store) == second)
        finally:
            for listener in listeners:
                listener.stop.set()
            for thread in threads:
                thread.join(10)

    assert org.subscriptions == [(CHANNEL, -1), (CHANNEL, first)]
    assert sorted(listener.enqueued for listener in listeners) == [1, 1]
    assert broker.queues["classify"].qsize() == 2


def _replay_id(store: Store) -> int | None:
    position = store.administration.stream_position(CHANNEL)
    return position.replay_id if position else None
