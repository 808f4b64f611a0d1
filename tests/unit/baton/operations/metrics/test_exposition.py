"""What an operator scrapes and probes: /metrics after a small pipeline run, /readyz up and down."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.calendar import CalendarEvent, EventMoveRefused, calendar_event_id
from adapters.calendar.google import GoogleCalendar, load_service_account
from adapters.salesforce.auth import ClientCredentials, connect
from adapters.salesforce.events import SalesforceEventWriter
from adapters.store import Store, make_engine
from baton import runtime
from entrypoints.demo.fake_calendar import fake_google_calendar
from entrypoints.demo.fake_salesforce import fake_salesforce
from entrypoints.http.app import create_app
from entrypoints.http.auth import METRICS_READ
from kernel.clock import utc_now
from kernel.errors import TransientError
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    token, _ = pipeline.store.tokens.create("prometheus", [METRICS_READ], utc_now())
    yield TestClient(create_app(pipeline.app), headers={"Authorization": f"Bearer {token}"})


def test_metrics_count_assignments_holds_dead_letters_and_stage_latency(client: TestClient, pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=3))
    before = scrape(client)

    pipeline.send([lead_event(n) for n in range(1, 7)], batch_size=3)
    pipeline.drain()
    pipeline.send_raw("classify", {"not": "a batch"})
    pipeline.drain()
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("baton_assignments_total", team="Inbound", method="round_robin", outcome="assigned") == 6
    assert delta("baton_stage_records_total", stage="assign") == 6
    for stage in ("classify", "territory", "match", "assign", "writeback"):
        assert delta("baton_stage_duration_seconds_count", stage=stage, result="ok") == 2
        assert delta("baton_stage_duration_seconds_bucket", stage=stage, result="ok", le="+Inf") == 2
    assert delta("baton_dead_letters_total", stage="classify") == 1
    assert value(after, "baton_dead_letters_stored", stage="classify") == 1
    assert value(after, "baton_store_up") == 1


def test_held_records_and_api_budget_come_from_the_store(client: TestClient, pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=1))
    pipeline.store.decisions.set_member_available(member_id(1), False, utc_now())
    pipeline.store.administration.save_api_usage(1_200, 15_000, utc_now())
    before = scrape(client)

    pipeline.send([lead_event(1), lead_event(2)])
    pipeline.drain()
    after = scrape(client)

    assert value(after, "baton_held_records", team="Inbound") == 2
    assert (value(after, "baton_assignments_total", team="Inbound", method="round_robin", outcome="held")
            - value(before, "baton_assignments_total", team="Inbound", method="round_robin", outcome="held")) == 2
    assert value(after, "baton_salesforce_api_requests_used") == 1_200
    assert value(after, "baton_salesforce_api_requests_limit") == 15_000
    assert value(after, "baton_salesforce_api_requests_remaining") == 13_800


def test_owner_writes_waiting_for_salesforce_and_the_oldest_ones_age_come_from_the_store(
    client: TestClient, pipeline: Pipeline
) -> None:
    """Owners decided but not written (no flush yet): counted per channel, with the oldest one's age, which the
    alert rule in deploy/prometheus/ watches; a channel with nothing waiting reports 0, so the series exists."""
    pipeline.apply(team_config(members=2))
    idle = scrape(client)
    queued = utc_now()
    pipeline.send([lead_event(1), lead_event(2)])
    pipeline.route()
    waiting = scrape(client)
    pipeline.flush()
    written = scrape(client)

    assert value(idle, "baton_outbox_pending_writes", channel="realtime") == 0
    assert value(idle, "baton_outbox_oldest_pending_age_seconds", channel="realtime") == 0
    assert value(waiting, "baton_outbox_pending_writes", channel="realtime") == 2
    age = value(waiting, "baton_outbox_oldest_pending_age_seconds", channel="realtime")
    assert 0 < age <= (utc_now() - queued).total_seconds()
    assert value(waiting, "baton_outbox_pending_writes", channel="bulk") == 0
    assert value(written, "baton_outbox_pending_writes", channel="realtime") == 0
    assert value(written, "baton_outbox_oldest_pending_age_seconds", channel="realtime") == 0


def test_calendar_calls_are_counted_by_operation_and_result_through_the_google_adapter(
    client: TestClient, tmp_path: Path
) -> None:
    """The real Google client against the fake Calendar: a free/busy read, an insert, a retried insert (409, then
    the get that finds the first event), an insert answered 503 and moves to another calendar (refused, done,
    gone), each counted with its result."""
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    event = CalendarEvent(calendar_event_id("bk-1"), "grace@example.com", "Demo", "", start,
                          start + timedelta(minutes=30), (), False)
    before = scrape(client)
    with fake_google_calendar(tmp_path) as fake:
        assert fake.key_file is not None
        calendar = GoogleCalendar(load_service_account(fake.key_file), "admin@example.com", fake.api_url)
        calendar.busy(["grace@example.com"], start, start + timedelta(hours=1))
        calendar.create_event(event)
        calendar.create_event(event)
        fake.fail_next(503)
        with pytest.raises(TransientError):
            calendar.create_event(dataclasses.replace(event, event_id=calendar_event_id("bk-2")))
        fake.domain_manages_calendars = False
        with pytest.raises(EventMoveRefused):
            calendar.transfer_event("grace@example.com", event.event_id, "alan@example.com")
        fake.writers["alan@example.com"] = {"grace@example.com"}
        calendar.transfer_event("grace@example.com", event.event_id, "alan@example.com")
        calendar.transfer_event("grace@example.com", event.event_id, "alan@example.com")
    after = scrape(client)

    expected = {("freebusy", "ok"): 1, ("insert", "ok"): 1, ("insert", "conflict"): 1, ("get", "ok"): 1,
                ("insert", "transient_error"): 1, ("move", "error"): 1, ("move", "ok"): 1, ("move", "gone"): 1}
    for (operation, result), count in expected.items():
        labels = {"operation": operation, "result": result}
        assert value(after, "baton_calendar_calls_total", **labels) - value(before, "baton_calendar_calls_total",
                                                                            **labels) == count, labels


def test_salesforce_api_calls_are_counted_by_resource_and_status(client: TestClient) -> None:
    """Calls through a session from ``connect`` (simple-salesforce against the fake org over HTTPS) count by
    resource and status class; the OAuth token exchange does not."""
    before = scrape(client)
    with fake_salesforce() as (fake, _):
        session = requests.Session()
        session.trust_env, session.verify = False, fake.ca_file
        salesforce = connect(ClientCredentials(fake.url, "consumer-key", fake.client_secret), session)
        events = SalesforceEventWriter(salesforce)
        events.upsert_event("booking-1", {"Subject": "Demo", "OwnerId": member_id(1),
                                          "StartDateTime": "2030-01-07T09:00:00.000+0000",
                                          "EndDateTime": "2030-01-07T09:30:00.000+0000"})
        events.delete_event("booking-1")
        events.delete_event("booking-1")  # already gone: a 404, fine for a delete
    after = scrape(client)

    def added(**labels: str) -> float:
        return value(after, "baton_salesforce_api_calls_total", **labels) - value(
            before, "baton_salesforce_api_calls_total", **labels)

    assert added(resource="sobjects", status="2xx") >= 2
    assert added(resource="sobjects", status="4xx") == 1
    assert added(resource="other", status="2xx") == 0


def test_readyz_is_200_with_details_when_broker_and_database_answer(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"]["database"] == {"ok": True, "detail": "sqlite reachable"}
    assert body["checks"]["broker"]["ok"] is True


def _runtime_with(pipeline: Pipeline, database_url: str | None = None, broker_url: str | None = None,
                  metrics_token: str | None = None) -> runtime.Runtime:
    current = pipeline.app
    ports = current.ports
    if database_url:
        ports = dataclasses.replace(ports, store=Store(make_engine(database_url)))
    settings, broker = current.settings.model_copy(update={"metrics_token": metrics_token}), current.broker
    if broker_url:
        settings = settings.model_copy(update={"broker_url": broker_url})
        broker = RabbitmqBroker(url=broker_url, middleware=[])
    return runtime.Runtime(settings, broker, ports)


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/test", "sqlite:////no/such/directory/baton.db"])
def test_readyz_is_503_naming_the_database_when_it_is_down(pipeline: Pipeline, url: str) -> None:
    down = _runtime_with(pipeline, database_url=url)
    response = TestClient(create_app(lambda: down)).get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["down"] == ["database"]
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["detail"]
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_is_503_naming_the_broker_when_rabbitmq_is_unreachable(pipeline: Pipeline) -> None:
    down = _runtime_with(pipeline, broker_url="amqp://guest:guest@127.0.0.1:1/%2F")
    response = TestClient(create_app(lambda: down)).get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert "127.0.0.1:1" in body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_metrics_still_answer_when_the_database_is_down(pipeline: Pipeline) -> None:
    down = _runtime_with(pipeline, database_url="sqlite:////no/such/directory/baton.db", metrics_token="scrape-me")
    samples = scrape(TestClient(create_app(lambda: down), headers={"Authorization": "Bearer scrape-me"}))
    assert value(samples, "baton_store_up") == 0
