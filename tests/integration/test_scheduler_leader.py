"""One scheduler works at a time on PostgreSQL: replicas stand by and take over when the leader goes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.leader import LeaderLock
from baton.bootstrap import leader_check
from baton.configs import ConfigProvider
from baton.operations.scheduler import SCHEDULER_LOCK, Scheduler
from kernel.clock import utc_now

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url: str, pg_schema: str) -> Iterator[sa.Engine]:
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    yield engine
    engine.dispose()


def test_a_second_scheduler_stands_by_until_the_leader_releases_its_lock(engine: sa.Engine) -> None:
    store = Store(engine)
    locks = [LeaderLock(engine, SCHEDULER_LOCK), LeaderLock(engine, SCHEDULER_LOCK)]
    first, second = (Scheduler(store.holds, store.sla_timers, StubBroker(), ConfigProvider(store.administration, 0), utc_now,
                               bookings=store.bookings, is_leader=leader_check(lock))
                     for lock in locks)

    assert first.tick() is not None
    assert second.tick() is None
    assert first.tick() is not None

    locks[0].release()
    assert second.tick() is not None
    assert first.tick() is None
    locks[1].release()
