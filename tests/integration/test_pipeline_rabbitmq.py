"""The pipeline on this machine's RabbitMQ and PostgreSQL with real ``dramatiq workers`` processes."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import Cluster
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.services import wait_until_drained

pytestmark = pytest.mark.integration

RECORDS = 1_000
MEMBERS = 7


def wait_for_assignments(cluster: Cluster, expected: int, timeout_s: float = 180) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        count = cluster.store.decisions.count_assignments()
        if count >= expected:
            return count
        time.sleep(0.25)
    raise AssertionError(f"only {count} of {expected} assigned; worker logs:\n{cluster.worker_logs()}")


def wait_for_owner_writes(cluster: Cluster, expected: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(cluster.store.outbox.summary().values()) < expected or ("pending", 0) in cluster.store.outbox.summary():
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not flushed: {cluster.store.outbox.summary()}\n{cluster.worker_logs()}")
        time.sleep(0.25)


def assert_fair_and_exactly_once(cluster: Cluster, records: int) -> None:
    wait_for_owner_writes(cluster, records)
    counts = cluster.store.decisions.owner_counts()
    assert sum(counts.values()) == records
    assert len(counts) == MEMBERS
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert cluster.store.decisions.team_decisions("Inbound") == records
    assert cluster.store.outbox.summary() == {("not_configured", 1): records}
    assert cluster.store.administration.dead_letters() == []


def test_thousand_events_on_two_workers_are_assigned_exactly_once_and_fairly(cluster: Cluster) -> None:
    cluster.apply(team_config(members=MEMBERS))
    cluster.start_worker()
    cluster.start_worker()
    cluster.start_flusher()
    events = [lead_event(n) for n in range(1, RECORDS + 1)]

    cluster.producer.publish(events, batch_size=1)
    wait_for_assignments(cluster, RECORDS)
    wait_until_drained(cluster.prefix)
    assert_fair_and_exactly_once(cluster, RECORDS)
    first = cluster.store.decisions.assignment_logs(e.routing_id for e in events)

    cluster.producer.publish(events, batch_size=50)
    wait_until_drained(cluster.prefix)

    assert cluster.store.decisions.count_assignments() == RECORDS
    assert_fair_and_exactly_once(cluster, RECORDS)
    assert cluster.store.decisions.assignment_logs(e.routing_id for e in events) == first


def test_worker_killed_mid_run_loses_and_doubles_nothing(cluster: Cluster) -> None:
    cluster.apply(team_config(members=MEMBERS))
    victim = cluster.start_worker()
    cluster.start_worker()
    cluster.start_flusher()
    events = [lead_event(n) for n in range(1, RECORDS + 1)]

    cluster.producer.publish(events, batch_size=5)
    wait_for_assignments(cluster, RECORDS // 5)
    victim.kill()
    killed_at = cluster.store.decisions.count_assignments()
    cluster.start_worker()

    wait_for_assignments(cluster, RECORDS)
    wait_until_drained(cluster.prefix)
    assert killed_at < RECORDS, "the kill came too late to prove anything"
    assert_fair_and_exactly_once(cluster, RECORDS)
