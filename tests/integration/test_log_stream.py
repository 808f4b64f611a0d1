"""The log stream on this machine's RabbitMQ: workers publish each decision to the topic exchange,
followers (the library and ``baton logs --follow``) receive what their filters bind, within a second."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pika
import pytest

from adapters.logstream import LogFollower, RabbitmqLogSink, binding_keys
from adapters.logstream.entries import booking_entries
from kernel.errors import TransientError
from messages import AssignmentLog, Outcome
from messages.booking import BookingLog, BookingStatus
from tests.integration.conftest import Cluster
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.integration

DECISION_TIMEOUT_S = 90
STREAM_WAIT_S = 1.0


@pytest.fixture
def exchange(cluster: Cluster, rabbitmq_url: str) -> Iterator[str]:
    """The cluster's log exchange (``<queue prefix>.logs`` by default), deleted afterwards."""
    name = f"{cluster.prefix}.logs"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    connection.channel().exchange_delete(exchange=name)
    connection.close()


def wait_for_decision(cluster: Cluster, routing_id: str) -> dict[str, object]:
    deadline = time.monotonic() + DECISION_TIMEOUT_S
    while time.monotonic() < deadline:
        found = cluster.store.decisions.assignment_logs([routing_id])
        if found:
            return found[routing_id]
        time.sleep(0.05)
    raise AssertionError(f"no decision for {routing_id}; worker logs:\n{cluster.worker_logs()}")


def start_cli_follower(cluster: Cluster, *args: str) -> subprocess.Popen[str]:
    """``baton logs --follow`` in its own process; returns once it says its queue is bound."""
    process = subprocess.Popen(
        [sys.executable, "-m", "baton", "logs", "--follow", "--json", "--timeout-s", "120", *args],
        cwd=REPO_ROOT, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("following "), line + process.stderr.read()
    return process


def test_an_assignment_reaches_followers_within_a_second_by_their_filters(
    cluster: Cluster, exchange: str, rabbitmq_url: str
) -> None:
    everything = LogFollower(rabbitmq_url, exchange, binding_keys())
    inbound_assigned = LogFollower(rabbitmq_url, exchange, binding_keys(teams=["Inbound"], outcomes=["assigned"]))
    held_only = LogFollower(rabbitmq_url, exchange, binding_keys(outcomes=["held"]))
    cli = start_cli_follower(cluster, "--team", "Inbound", "--owner", member_id(1), "--count", "1")
    try:
        cluster.apply(team_config(members=2))
        cluster.start_worker(threads=2)
        event = lead_event(1)
        cluster.producer.publish([event], batch_size=1)

        stored = wait_for_decision(cluster, event.routing_id)
        deadline = time.monotonic() + STREAM_WAIT_S
        received = next(everything.entries(deadline), None)
        filtered = next(inbound_assigned.entries(time.monotonic() + STREAM_WAIT_S), None)
        held = list(held_only.entries(time.monotonic() + 0.3))
        out, err = cli.communicate(timeout=60)
    finally:
        for follower in (everything, inbound_assigned, held_only):
            follower.close()
        if cli.poll() is None:
            cli.kill()

    assert received is not None, "the log did not arrive within a second of the decision"
    key, body = received
    assert key == "assignment.Lead.Inbound.assigned"
    assert body["kind"] == "assignment"
    assert {k: v for k, v in body.items() if k != "kind"} == stored
    assert filtered is not None and filtered[1]["routing_id"] == event.routing_id
    assert held == []
    assert cli.returncode == 0, err
    [line] = out.splitlines()
    assert json.loads(line)["record_id"] == event.record_id and json.loads(line)["owner_id"] == member_id(1)


def test_a_deleted_exchange_is_declared_again_and_the_log_still_arrives(exchange: str, rabbitmq_url: str) -> None:
    sink = RabbitmqLogSink(rabbitmq_url, exchange)
    sink.publish([assignment_log(1)])  # opens the thread's channel and declares the exchange
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    connection.channel().exchange_delete(exchange=exchange)
    connection.close()
    follower = LogFollower(rabbitmq_url, exchange, binding_keys(objects=["Lead"]))
    try:
        sink.publish([assignment_log(2)])
        received = next(follower.entries(time.monotonic() + 5), None)
    finally:
        follower.close()
        sink.close()
    assert received is not None and received[1]["record_id"] == "00Q000000000002AAA"


def test_a_booking_log_reaches_a_follower_of_bookings_filtered_by_host(cluster: Cluster, exchange: str) -> None:
    """``baton logs --follow --kind booking --owner HOST`` gets the confirmed booking of that host, nothing else."""
    cli = start_cli_follower(cluster, "--kind", "booking", "--outcome", "confirmed", "--owner", member_id(2),
                             "--count", "1")
    sink = RabbitmqLogSink(cluster.env["BATON_BROKER_URL"], exchange)
    try:
        sink.publish([assignment_log(1)])  # another kind: not bound
        sink.publish_entries(booking_entries([booking_log(member_id(1)), booking_log(member_id(2))]))
        out, err = cli.communicate(timeout=60)
    finally:
        sink.close()
        if cli.poll() is None:
            cli.kill()

    assert cli.returncode == 0, err
    [line] = out.splitlines()
    body = json.loads(line)
    assert (body["kind"], body["host_id"], body["status"], body["pool"]) == ("booking", member_id(2), "confirmed",
                                                                            "Inbound")


def booking_log(host_id: str) -> BookingLog:
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    return BookingLog(booking_id=f"bk-{host_id}", status=BookingStatus.CONFIRMED, booking_type="Intro",
                      object_type="Lead", record_id="00Q000000000001AAA", scheduler_user_id=member_id(9),
                      host_id=host_id, pool="Inbound", subject="Intro", start=start, end=start + timedelta(minutes=30),
                      guest_email="pat@prospect.example.org", decided_at=start)


def test_an_unreachable_broker_is_a_transient_error_so_the_stage_retries() -> None:
    sink = RabbitmqLogSink("amqp://guest:guest@127.0.0.1:1/%2F", "baton.logs")
    with pytest.raises(TransientError, match="log stream: publish to exchange 'baton.logs' failed"):
        sink.publish([assignment_log(1)])


def assignment_log(number: int) -> AssignmentLog:
    event = lead_event(number)
    return AssignmentLog(routing_id=event.routing_id, record_id=event.record_id, object_type="Lead",
                         outcome=Outcome.ASSIGNED, owner_id=member_id(1), team="Inbound", source=event.source.value,
                         source_event_id=event.source_event_id, event_at=event.event_time(),
                         decided_at=event.event_time())
