"""The change-event listener against a fake Streaming API (real Bayeux JSON over HTTPS, real requests and
simple-salesforce): events in as record events, the loop guard, replay ids stored and resumed, the
catch-up after an expired replay id, gap re-reads, re-handshakes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from dramatiq import Message
from structlog.testing import capture_logs

from adapters.salesforce.streaming import REPLAY_NEW, BayeuxClient, StreamingSession
from adapters.store import Store, make_engine
from entrypoints.listener import CATCH_UP_OVERLAP, ChannelListener
from kernel.errors import ConfigError, SessionInvalid, TransientError
from messages import routing_id_for
from tests.support import cdc_samples as cdc
from tests.support.configs import team_config
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.pipeline import Pipeline

CHANNEL = cdc.LEAD_CHANNEL
REPO_ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 15.0


@pytest.fixture
def org(pipeline: Pipeline) -> Iterator[FakeStreamingOrg]:
    pipeline.apply(team_config(members=2))
    with fake_streaming_org() as fake:
        fake.known_channels.update({CHANNEL, cdc.BOOKING_CHANNEL})
        yield fake


def listener(pipeline: Pipeline, org: FakeStreamingOrg, login: Callable | None = None) -> ChannelListener:
    return ChannelListener(CHANNEL, pipeline.store, pipeline.broker, login or org.client,
                           standby_s=0.05, backoff_min_s=0.05, backoff_max_s=0.2)


@contextmanager
def running(subject: ChannelListener) -> Iterator[list[BaseException]]:
    """Runs the listener on a thread; stops it and waits for it afterwards. Yields its errors."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            subject.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        subject.stop.set()
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the listener did not stop"


def stored_replay_id(pipeline: Pipeline) -> int | None:
    position = pipeline.store.administration.stream_position(CHANNEL)
    return position.replay_id if position else None


def wait_for_position(pipeline: Pipeline, org: FakeStreamingOrg, replay_id: int | None) -> None:
    org.wait_for(lambda: (p := pipeline.store.administration.stream_position(CHANNEL)) is not None and p.replay_id == replay_id,
                 WAIT_S)


def test_change_events_are_enqueued_as_record_events_with_their_ids(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    ids = [cdc.lead_id(1), cdc.lead_id(2)]
    subject = listener(pipeline, org)
    with running(subject):
        org.wait_for(lambda: org.subscriptions == [(CHANNEL, REPLAY_NEW)])
        org.publish(CHANNEL, cdc.lead_created(ids, tx="tx-a"))
        last = org.publish(CHANNEL, cdc.lead_updated(cdc.lead_id(3), tx="tx-b"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    expected = {routing_id_for("change_event", f"tx-a:1:{i}") for i in ids}
    expected.add(routing_id_for("change_event", f"tx-b:1:{cdc.lead_id(3)}"))
    logs = pipeline.store.decisions.assignment_logs(expected)
    assert set(logs) == expected
    assert {log["source"] for log in logs.values()} == {"change_event"}
    assert subject.enqueued == 3
    assert pipeline.store.administration.stream_position(CHANNEL).event_at == datetime(2025, 11, 20, 10, 15, 42, tzinfo=UTC)


def test_baton_own_change_is_not_even_enqueued_and_is_logged(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    subject = listener(pipeline, org)
    with capture_logs() as logs, running(subject):
        org.wait_for(lambda: bool(org.subscriptions))
        org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-own", origin=cdc.BATON_ORIGIN))
        last = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-user"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    assert subject.enqueued == 1
    assert [log.record_id for log in pipeline.sink.published] == [cdc.lead_id(2)]
    [ignored] = [entry for entry in logs if entry["event"] == "change_event_ignored"]
    assert ignored["record_ids"] == [cdc.lead_id(1)] and "client=baton" in ignored["reason"]


def test_a_restart_resumes_from_the_stored_replay_id(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        first = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-1"))
        wait_for_position(pipeline, org, first)
    missed = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-2"))  # while nobody listens

    with running(listener(pipeline, org)):
        wait_for_position(pipeline, org, missed)
    pipeline.drain()

    assert org.subscriptions == [(CHANNEL, REPLAY_NEW), (CHANNEL, first)]
    assert sorted(log.record_id for log in pipeline.sink.published) == [cdc.lead_id(1), cdc.lead_id(2)]


def test_an_expired_replay_id_is_caught_up_by_soql_then_new_events_only(pipeline: Pipeline,
                                                                         org: FakeStreamingOrg) -> None:
    last_seen = datetime(2025, 11, 17, 12, 0, tzinfo=UTC)
    pipeline.store.administration.save_stream_position(CHANNEL, 5, last_seen, last_seen)
    org.expire_below(CHANNEL, 500)
    org.records["Lead"] = [
        cdc.rest_lead(1, modstamp="2025-11-17T11:00:00.000+0000"),  # before the position: routed back then
        cdc.rest_lead(2, modstamp="2025-11-17T11:59:30.000+0000"),  # inside the overlap
        cdc.rest_lead(3, modstamp="2025-11-19T08:00:00.000+0000"),
    ]
    subject = listener(pipeline, org)
    with capture_logs() as logs, running(subject):
        org.wait_for(lambda: (p := pipeline.store.administration.stream_position(CHANNEL)) is not None and p.replay_id is None,
                     WAIT_S)
        after = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(4)], tx="tx-new"))
        wait_for_position(pipeline, org, after)
    pipeline.drain()

    assert org.subscriptions == [(CHANNEL, 5), (CHANNEL, REPLAY_NEW)]
    since = (last_seen - CATCH_UP_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(q.startswith("SELECT Id, FirstName") and f"FROM Lead WHERE SystemModstamp >= {since}" in q
               for q in org.queries)
    assert sorted(log.record_id for log in pipeline.sink.published) == [cdc.lead_id(n) for n in (2, 3, 4)]
    caught_up = routing_id_for("change_event", f"{cdc.lead_id(3)}:2025-11-19T08:00:00.000+0000")
    assert caught_up in pipeline.store.decisions.assignment_logs([caught_up])
    assert any(entry["event"] == "replay_id_expired" for entry in logs)


def test_a_gap_event_re_reads_the_named_records(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    org.records["Lead"] = [cdc.rest_lead(n) for n in (7, 8, 9)]
    ids = [cdc.lead_id(7), cdc.lead_id(8)]
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        last = org.publish(CHANNEL, cdc.gap_event("GAP_CREATE", ids, tx="tx-gap"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    [query] = [q for q in org.queries if "WHERE Id IN" in q]
    assert query.endswith(f"FROM Lead WHERE Id IN ('{ids[0]}', '{ids[1]}')")
    logs = pipeline.store.decisions.assignment_logs(routing_id_for("change_event", f"tx-gap:1:{i}") for i in ids)
    assert sorted(log["record_id"] for log in logs.values()) == ids
    [log] = [entry for entry in pipeline.sink.published if entry.record_id == ids[0]]
    assert log.outcome.value == "assigned"


def test_an_overflow_event_re_reads_the_entity_since_its_commit(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    org.records["Lead"] = [cdc.rest_lead(1, modstamp="2025-11-20T08:55:00.000+0000"),
                           cdc.rest_lead(2, modstamp="2025-11-20T07:00:00.000+0000")]
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        last = org.publish(CHANNEL, cdc.gap_event("GAP_OVERFLOW", [], tx="tx-over"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    assert any("WHERE SystemModstamp >= 2025-11-20T08:50:00Z" in q for q in org.queries)
    assert [log.record_id for log in pipeline.sink.published] == [cdc.lead_id(1)]


def test_a_platform_event_routes_the_record_it_names(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    org.records["Lead"] = [cdc.rest_lead(5)]
    subject = ChannelListener(cdc.BOOKING_CHANNEL, pipeline.store, pipeline.broker, org.client,
                              backoff_min_s=0.05, backoff_max_s=0.2)
    with running(subject):
        org.wait_for(lambda: bool(org.subscriptions))
        org.publish(cdc.BOOKING_CHANNEL, cdc.booking_request("Lead", cdc.lead_id(5)), EventUuid="uuid-5")
        org.wait_for(lambda: subject.enqueued == 1, WAIT_S)
    pipeline.drain()

    logs = pipeline.store.decisions.assignment_logs([routing_id_for("platform_event", f"uuid-5:{cdc.lead_id(5)}")])
    assert len(logs) == 1


def test_unknown_client_re_handshakes_and_resubscribes_after_the_last_event(pipeline: Pipeline,
                                                                             org: FakeStreamingOrg) -> None:
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        first = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-1"))
        wait_for_position(pipeline, org, first)
        org.connect_faults.append("403::Unknown client")
        org.wait_for(lambda: org.handshakes == 2)
        second = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-2"))
        wait_for_position(pipeline, org, second)

    assert org.subscriptions == [(CHANNEL, REPLAY_NEW), (CHANNEL, first)]


def test_events_are_delivered_again_when_the_enqueue_failed(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    def second_batch(message: Message) -> bool:
        return message.actor_name == "classify" and stored_replay_id(pipeline) is not None and not refused

    with pipeline.refusing_enqueue(second_batch) as refused, running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        first = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-1"))
        wait_for_position(pipeline, org, first)
        second = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(2)], tx="tx-2"))
        wait_for_position(pipeline, org, second)
    pipeline.drain()

    assert len(refused) == 1
    assert org.subscriptions == [(CHANNEL, REPLAY_NEW), (CHANNEL, first)]  # resumed from the stored position
    assert sorted(log.record_id for log in pipeline.sink.published) == [cdc.lead_id(1), cdc.lead_id(2)]


def test_an_unknown_channel_stops_the_listener_with_a_config_error(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    subject = ChannelListener("/data/Nope__ChangeEvent", pipeline.store, pipeline.broker, org.client)
    with running(subject) as errors:
        org.wait_for(lambda: bool(errors))
    [error] = errors
    assert isinstance(error, ConfigError)
    assert "/data/Nope__ChangeEvent: subscription refused: 400::The channel you requested" in str(error)


def test_a_session_salesforce_keeps_refusing_stops_the_listener(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    def stale_login():  # type: ignore[no-untyped-def]
        client = org.client()
        client.session_id = "00Dfake!revoked"
        return client

    with running(listener(pipeline, org, login=stale_login)) as errors:
        org.wait_for(lambda: bool(errors))
    [error] = errors
    assert isinstance(error, ConfigError) and "refused 3 fresh sessions" in str(error)
    assert org.handshakes == 0


def test_first_start_remembers_when_it_began_listening(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    with running(listener(pipeline, org)):
        org.wait_for(lambda: pipeline.store.administration.stream_position(CHANNEL) is not None)
    position = pipeline.store.administration.stream_position(CHANNEL)
    assert position.replay_id is None and position.event_at >= before


def test_baton_listen_routes_change_events_until_stopped(tmp_path: Path) -> None:
    """The command as deployed: client-credentials login, embedded routing, SIGTERM, a summary on stdout."""
    config = tmp_path / "org.yaml"
    config.write_text(team_config(members=2))
    database = f"sqlite:///{tmp_path / 'baton.sqlite3'}"
    with fake_streaming_org() as org:
        org.known_channels.add(CHANNEL)
        env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
        env.update({
            "BATON_DATABASE_URL": database, "BATON_CONFIG": str(config), "BATON_SALESFORCE_CHANNELS": CHANNEL,
            "BATON_SALESFORCE_LOGIN_URL": org.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
            "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret, "REQUESTS_CA_BUNDLE": org.ca_file,
            "BATON_LOG_LEVEL": "WARNING",
        })
        process = subprocess.Popen([sys.executable, "-c", "from entrypoints.cli import app; app()", "listen"],
                                   cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            org.wait_for(lambda: bool(org.subscriptions) or process.poll() is not None, 60)
            replay_id = org.publish(CHANNEL, cdc.lead_created([cdc.lead_id(1)], tx="tx-cli"))
            store = Store(make_engine(database))
            org.wait_for(lambda: (p := store.administration.stream_position(CHANNEL)) is not None and p.replay_id == replay_id, 60)
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert stdout.strip() == f"{CHANNEL}: 1 record event(s) enqueued"
    routing_id = routing_id_for("change_event", f"tx-cli:1:{cdc.lead_id(1)}")
    assert store.decisions.assignment_logs([routing_id])[routing_id]["outcome"] == "assigned"
    store.engine.dispose()


def test_baton_listen_without_channels_or_connected_app_is_a_usage_error(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    env["BATON_DATABASE_URL"] = f"sqlite:///{tmp_path / 'baton.sqlite3'}"

    def listen(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from entrypoints.cli import app; app()", "listen", *args],
                              cwd=REPO_ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=60)

    no_channels = listen()
    no_app = listen("--channels", CHANNEL)
    bad_channel = listen("--channels", "/topic/Leads")

    assert (no_channels.returncode, no_app.returncode, bad_channel.returncode) == (2, 2, 2)
    assert "no channels: set BATON_SALESFORCE_CHANNELS" in no_channels.stderr
    assert "no connected app" in no_app.stderr
    assert "not a /data/... or /event/... channel: /topic/Leads" in bad_channel.stderr
    assert no_channels.stdout == no_app.stdout == bad_channel.stdout == ""


# the Bayeux client on its own ------------------------------------------------------------------
def bayeux(org: FakeStreamingOrg, slept: list[float]) -> BayeuxClient:
    http = requests.Session()
    http.trust_env, http.verify = False, org.ca_file
    return BayeuxClient(StreamingSession(org.url, org.session_id), http, sleep=slept.append)


def test_the_client_waits_the_advised_interval_between_connects(org: FakeStreamingOrg) -> None:
    slept: list[float] = []
    client = bayeux(org, slept)
    client.subscribe(CHANNEL, REPLAY_NEW)
    org.connect_advice = {"interval": 250, "timeout": 5000, "reconnect": "retry"}
    client.connect()
    client.connect()

    assert slept == [0.25]
    assert client.advice.timeout_ms == 5000


def test_the_client_types_its_failures(org: FakeStreamingOrg) -> None:
    client = bayeux(org, [])
    client.subscribe(CHANNEL, REPLAY_NEW)
    org.http_faults.append(503)
    with pytest.raises(TransientError, match="503"):
        client.connect()
    org.connect_faults.append("401::Authentication invalid")
    with pytest.raises(SessionInvalid, match="401::Authentication invalid"):
        client.connect()
    with pytest.raises(SessionInvalid, match="handshake refused: 401::Authentication invalid"):
        BayeuxClient(StreamingSession(org.url, "00Dfake!wrong"), client._http).handshake()
    with pytest.raises(TransientError, match="unreachable"):
        BayeuxClient(StreamingSession("https://127.0.0.1:9", org.session_id)).handshake()
