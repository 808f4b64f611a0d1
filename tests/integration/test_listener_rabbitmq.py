"""`baton listen` as deployed: two replicas on PostgreSQL (one active, elected by an advisory lock) publishing
change events to real RabbitMQ, where ``dramatiq workers`` route them; the standby takes over from the stored
replay id when the active one dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from messages import routing_id_for
from tests.integration.conftest import Cluster
from tests.support import cdc_samples as cdc
from tests.support.configs import team_config
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration
CHANNEL = cdc.LEAD_CHANNEL
WAIT_S = 60.0
STANDBY_CHECK_S = 6.0  # longer than a standby's retry (entrypoints.listener.STANDBY_RETRY_S)


@pytest.fixture
def org() -> Iterator[FakeStreamingOrg]:
    with fake_streaming_org() as fake:
        fake.known_channels.add(CHANNEL)
        yield fake


def start_listener(cluster: Cluster, org: FakeStreamingOrg, name: str) -> ServiceProcess:
    env = {**cluster.env, "BATON_SALESFORCE_CHANNELS": CHANNEL, "BATON_SALESFORCE_LOGIN_URL": org.url,
           "BATON_SALESFORCE_CLIENT_ID": "consumer-key", "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret,
           "REQUESTS_CA_BUNDLE": org.ca_file, "NO_PROXY": "127.0.0.1", "BATON_LOG_LEVEL": "INFO"}
    listener = ServiceProcess(env, cluster.log_dir / f"{name}.log", ["baton", "listen"]).start()
    cluster.workers.append(listener)
    return listener


def wait_for_decision(cluster: Cluster, routing_id: str) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        logs = cluster.store.decisions.assignment_logs([routing_id])
        if routing_id in logs:
            return logs[routing_id]
        time.sleep(0.2)
    raise AssertionError(f"{routing_id} was never decided:\n{cluster.worker_logs()}")


def standing_by(log_path: Path) -> bool:
    return log_path.exists() and "listener_standby" in log_path.read_text(errors="replace")


def test_one_of_two_listeners_publishes_to_rabbitmq_and_the_other_resumes_from_the_stored_replay_id(
    cluster: Cluster, org: FakeStreamingOrg
) -> None:
    cluster.apply(team_config(members=2))
    cluster.start_worker(threads=2)
    first, second = start_listener(cluster, org, "listen-a"), start_listener(cluster, org, "listen-b")
    org.wait_for(lambda: len(org.subscriptions) == 1, WAIT_S)
    org.wait_for(lambda: standing_by(first.log_path) or standing_by(second.log_path), WAIT_S)
    active, standby = (second, first) if standing_by(first.log_path) else (first, second)

    routed = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-first"))
    decision = wait_for_decision(cluster, routing_id_for("change_event", f"tx-first:1:{cdc.lead_id(1)}"))
    assert decision["outcome"] == "assigned"
    org.wait_for(lambda: (p := cluster.store.administration.stream_position(CHANNEL)) is not None and p.replay_id == routed, WAIT_S)
    time.sleep(STANDBY_CHECK_S)
    assert len(org.subscriptions) == 1 and org.handshakes == 1  # the standby never subscribed

    active.kill()  # a crash: its database session ends and with it the lock
    missed = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-missed"))
    org.wait_for(lambda: len(org.subscriptions) == 2, WAIT_S)
    assert org.subscriptions[-1] == (CHANNEL, routed)  # resumed after the last stored replay id
    wait_for_decision(cluster, routing_id_for("change_event", f"tx-missed:1:{cdc.lead_id(2)}"))
    org.wait_for(lambda: (p := cluster.store.administration.stream_position(CHANNEL)) is not None and p.replay_id == missed, WAIT_S)
    assert standby.process is not None and standby.process.poll() is None
    assert cluster.store.decisions.count_assignments() == 2 and cluster.store.administration.dead_letters() == []
