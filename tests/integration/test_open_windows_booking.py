"""Race tests for the open integrity windows of the embedded default and the booking chain (issue 19: 1, 2,
3, 7 and 8). Each runs its whole scenario with plain checks that it really happened, then checks the promise
last with ``assert_window_closed``; while the window is open that is a strict expected failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from fastapi.testclient import TestClient

from adapters.calendar import calendar_event_id
from adapters.calendar.google import GoogleCalendar, load_service_account
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.outbound import parse_outbound_message, to_events
from adapters.store import Store, make_engine
from adapters.store.bookings import SqlBookings
from adapters.store.leader import LeaderLock
from adapters.store.tables import assignments, reservations
from baton import runtime
from baton.booking.chain import owner_logs
from baton.booking.lifecycle import CANCELLED_PREFIX
from baton.booking.ports import BookingPorts
from baton.chains import BOOKING_SYNC
from baton.embedded import INBOX_LOCK
from baton.operations.scheduler import Scheduler
from baton.ports import Ports
from entrypoints.demo.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from entrypoints.http.app import create_app
from messages.booking import FINAL_STATUSES, BookingStatus, booking_id_for
from tests.support.booking import AUTH, TOKEN, BookingChain, booking_request, install_booking_ports
from tests.support.booking_races import (
    WebProcess,
    bookable_start,
    paused_after_load,
    silent_broker,
    web_process,
    write_booking_config,
)
from tests.support.outbound import ORG, XML, envelope, notification
from tests.support.pipeline import Pipeline, running_pipeline
from tests.support.services import REPO_ROOT
from tests.support.windows import assert_window_closed

pytestmark = pytest.mark.integration
OUTBOUND_TOKEN = "path-token-4d1e8b"
SETTLED_S = 10.0  # generous: the embedded web routes one record and books one meeting in well under a second
HEALTH_BOUND_S = 2.0  # the promise: health answers while a publish hangs (not a verdict on speed)
FINAL = {status.value for status in FINAL_STATUSES}


def web_env(**extra: str) -> dict[str, str]:
    """This process's environment without any BATON_* setting (the embedded default), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    return {**env, "PYTHONPATH": str(REPO_ROOT), "BATON_LOG_LEVEL": "INFO",
            "BATON_OUTBOUND_TOKEN": OUTBOUND_TOKEN, "BATON_SALESFORCE_ORG_IDS": ORG, "BATON_BOOKING_TOKEN": TOKEN,
            **extra}


def outbound(web: WebProcess, body: bytes, timeout_s: float = 30) -> requests.Response:
    return requests.post(f"{web.url}/salesforce/outbound/{OUTBOUND_TOKEN}", data=body, headers=XML,
                         timeout=timeout_s)


def book(web: WebProcess, request_id: str, timeout_s: float = 30) -> requests.Response:
    body = booking_request(start=bookable_start().isoformat(), request_id=request_id)
    return requests.post(f"{web.url}/bookings", json=body, headers=AUTH, timeout=timeout_s)


def routing_ids(body: bytes) -> list[str]:
    return [event.routing_id for event in to_events(parse_outbound_message(body), datetime.now(UTC), None)]


def wait_for(check: Callable[[], bool], timeout_s: float, every_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True


@pytest.fixture
def pg_pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    """The in-process pipeline (StubBroker, worker threads) on this machine's PostgreSQL, in the test's schema."""
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


# 1. The embedded default accepts work it never does.

@pytest.mark.parametrize("restart", [signal.SIGTERM, signal.SIGKILL], ids=["restart", "kill-9"])
def test_work_the_embedded_web_process_acknowledged_is_finished_after_a_restart(
    restart: signal.Signals, tmp_path: Path
) -> None:
    """The Procfile's web process on the embedded default (no broker URL, SQLite in its folder) Acks an
    outbound message and 202s a booking; restarted (or killed with -9), it finishes both. The test holds the
    inbox's drain lock while the first process answers, so that process only stores the work (it stands by, as
    beside another drainer): the work is provably accepted and not done when the process stops."""
    body = envelope(notification(1))
    database = tmp_path / "baton.sqlite3"
    with web_process(web_env(BATON_CONFIG=str(write_booking_config(tmp_path))), tmp_path) as web:
        web.stop(signal.SIGTERM)  # the first start made the database; the scene starts with the lock taken
        accepted = Store(make_engine(f"sqlite:///{database}"))
        drain_lock = LeaderLock(accepted.engine, INBOX_LOCK)
        assert drain_lock.try_acquire(), "the drain lock was not free"
        web.start()
        acked = outbound(web, body)
        assert acked.status_code == 200 and "<Ack>true</Ack>" in acked.text, acked.text
        booked = book(web, "embedded-restart")
        assert booked.status_code == 202 and booked.json()["status"] == "reserved", booked.text
        in_flight = accepted.inbox.pending()
        assert in_flight >= 2 and not accepted.decisions.assignment_logs(routing_ids(body)), in_flight
        web.stop(restart)
        drain_lock.release()
        accepted.engine.dispose()
        web.start()
        store = Store(make_engine(f"sqlite:///{database}"))

        def status() -> str:
            return str(requests.get(f"{web.url}/bookings/{booked.json()['booking_id']}", headers=AUTH,
                                    timeout=30).json()["status"])

        def finished() -> bool:
            return len(store.decisions.assignment_logs(routing_ids(body))) == 1 and status() in FINAL

        settled = wait_for(finished, SETTLED_S)
        evidence = {"decided": sorted(store.decisions.assignment_logs(routing_ids(body))), "booking": status(),
                    "accepted_before_the_stop": in_flight, "still_in_the_inbox": store.inbox.pending()}
        store.engine.dispose()
    assert_window_closed(settled, "an Ack or 202 of the embedded default is finished after a restart", evidence)


def test_baton_route_beside_the_embedded_web_process_on_its_sqlite_file_decides_each_record_once(
    tmp_path: Path
) -> None:
    """``baton route`` on the web process's SQLite file while the web takes bookings: the route decides each
    of its records once, the bookings keep one reservation each, and the file stays sound. (Passes today: no
    process drains the other's work yet; it guards the inbox that will.)"""
    config = write_booking_config(tmp_path)
    env = web_env(BATON_CONFIG=str(config))
    leads = REPO_ROOT / "examples" / "leads.jsonl"
    with web_process(env, tmp_path) as web:
        route = subprocess.Popen([sys.executable, "-m", "baton", "route", str(leads), "--config", str(config),
                                  "--json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        booked = [book(web, f"beside-route-{number}").json()["booking_id"] for number in range(2)]
        printed, errors = route.communicate(timeout=300)
        assert route.returncode == 0, errors[-2000:]
        statuses = [requests.get(f"{web.url}/bookings/{booking_id}", headers=AUTH, timeout=30).json()["status"]
                    for booking_id in booked]
    decided = [json.loads(line)["routing_id"] for line in printed.splitlines()]
    engine = make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")
    with engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(assignments)
                                    .where(assignments.c.routing_id.in_(decided))).scalar_one()
        held = dict(connection.execute(sa.select(reservations.c.booking_id, sa.func.count())
                                       .group_by(reservations.c.booking_id)).all())
        sound = connection.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    engine.dispose()
    assert len(set(decided)) == len(decided) == stored == len(leads.read_text().splitlines())
    assert not {"failed", "cancelled"} & set(statuses) and held == dict.fromkeys(booked, 1), statuses
    assert sound == "ok"


# 2. A cancel during the booking chain is undone.

CHAIN = {  # each step of the chain after the reservation, and the status in which it finds its booking
    "booking_calendar": BookingStatus.RESERVED, "booking_event": BookingStatus.CALENDAR_CREATED,
    "booking_owner": BookingStatus.EVENT_CREATED, "booking_log": BookingStatus.CONFIRMED,
}


@pytest.fixture
def real_chain(pg_pipeline: Pipeline, tmp_path: Path) -> Iterator[tuple[Pipeline, FakeGoogleCalendar, FakeOrg]]:
    """The booking chain with google-api-python-client on the fake Calendar and simple-salesforce on the fake org
    (the owner's outbox rows stay pending: no flusher runs)."""
    with fake_google_calendar(tmp_path) as calendar, fake_salesforce() as (org, client):
        assert calendar.key_file is not None
        google = GoogleCalendar(load_service_account(calendar.key_file), "admin@example.com", calendar.api_url)
        install_booking_ports(pg_pipeline.app, pg_pipeline.store, google, SalesforceEventWriter(salesforce=client))
        yield pg_pipeline, calendar, org


def pending_owner_changes(ports: Ports, booking_id: str) -> set[str]:
    """Routing ids of the booking's owner changes still waiting in the outbox."""
    booking = ports.store.bookings.get(booking_id)
    assert booking is not None
    statuses = ports.store.outbox.statuses([entry.routing_id for entry in owner_logs(booking, BookingPorts.of(ports))])
    return {routing_id for routing_id, status in statuses.items() if status == "pending"}


def what_survives(ports: Ports, booking_id: str, calendar: FakeGoogleCalendar, org: FakeOrg) -> dict[str, Any]:
    """What is left of a booking: its status, live calendar events, live Salesforce Events, reserved time."""
    event_id = calendar_event_id(booking_id)
    with ports.store.engine.connect() as connection:
        held = connection.execute(sa.select(sa.func.count()).select_from(reservations)
                                  .where(reservations.c.booking_id == booking_id)).scalar_one()
    booking = ports.store.bookings.get(booking_id)
    assert booking is not None
    return {
        "status": booking.status,
        "live_calendar_events": [name for name in calendar.events if any(
            event["id"] == event_id for event in calendar.live_events(name))],
        "live_salesforce_events": [record["Subject"] for record in org.events.records.values()
                                   if record.get("Baton_Booking_Id__c") == booking_id
                                   and not record["Subject"].startswith(CANCELLED_PREFIX)],
        "reservations": held,
    }


@pytest.mark.parametrize("stage", list(CHAIN))
def test_a_booking_cancelled_while_a_step_of_its_chain_runs_leaves_nothing_behind(
    stage: str, real_chain: tuple[Pipeline, FakeGoogleCalendar, FakeOrg]
) -> None:
    """The step reads its booking; the API cancels it (and the cancel's sync runs); then the step goes on. In
    the end the booking is cancelled with no live calendar event, no live Salesforce Event, no reserved time,
    and no owner change queued after the cancel: the step's transition loses to the cancel and it takes back
    what it made."""
    pipeline, calendar, org = real_chain
    client = TestClient(create_app(pipeline.app))
    with paused_after_load(pipeline.store.engine, stage) as step:
        booked = client.post("/bookings", json=booking_request(), headers=AUTH)
        assert booked.status_code == 202, booked.text
        booking_id = booked.json()["booking_id"]
        assert step.loaded.wait(30), f"{stage} never read booking {booking_id}"
        assert client.get(f"/bookings/{booking_id}", headers=AUTH).json()["status"] == CHAIN[stage].value
        cancelled = client.post(f"/bookings/{booking_id}/cancel", json={"reason": "race"}, headers=AUTH)
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled", cancelled.text
        pipeline.broker.join(pipeline.broker.get_actor(BOOKING_SYNC.name).queue_name, timeout=30_000)
        owners_before_cancel = pending_owner_changes(pipeline.app.ports, booking_id)
        assert not step.finished.is_set(), f"{stage} finished before the cancel was done"
        step.release()
        assert step.finished.wait(30)
    BookingChain(pipeline.app, pipeline.broker, pipeline.store, None, None).drain()  # type: ignore[arg-type]
    left = what_survives(pipeline.app.ports, booking_id, calendar, org)
    left["owner_changes_queued_after_the_cancel"] = sorted(pending_owner_changes(pipeline.app.ports, booking_id) - owners_before_cancel)
    nothing_left = left["status"] == "cancelled" and not any(value for key, value in left.items() if key != "status")
    assert_window_closed(nothing_left, f"nothing of a booking cancelled during {stage} survives", left)


# 3. Bookings stuck in ``reserved``.

STUCK_REQUEST = "stuck-in-reserved"
GRACE = timedelta(hours=1)  # well past any grace period a resumption would wait


@pytest.fixture
def stuck_booking(postgres_url: str, pg_schema: str, tmp_path: Path) -> dict[str, Any]:
    """The request of a booking whose web process (RabbitMQ broker that never answers, PostgreSQL) was killed
    with -9 after the reservation committed, while the chain's publish hung."""
    request = booking_request(start=bookable_start().isoformat(), request_id=STUCK_REQUEST)
    engine = make_engine(postgres_url, pg_schema)
    bookings = SqlBookings(engine)
    with silent_broker() as broker:
        env = web_env(BATON_BROKER_URL=broker.url, BATON_DATABASE_URL=postgres_url,
                      BATON_DATABASE_SCHEMA=pg_schema, BATON_CONFIG=str(write_booking_config(tmp_path)))
        with web_process(env, tmp_path) as web, ThreadPoolExecutor(1) as pool:
            before = len(broker.connections)
            posting = pool.submit(requests.post, f"{web.url}/bookings", json=request, headers=AUTH, timeout=60)
            assert broker.wait_for_connection(before), "the booking's chain was never published"
            assert wait_for(lambda: bookings.get(booking_id_for(STUCK_REQUEST)) is not None, 30, 0.05)
            assert not posting.done(), "the booking was answered before the process died"
            web.stop(signal.SIGKILL)
    stuck = bookings.get(booking_id_for(STUCK_REQUEST))
    engine.dispose()
    assert stuck is not None and stuck.status == BookingStatus.RESERVED.value
    return request


@pytest.fixture
def resumed_pipeline(stuck_booking: dict[str, Any], pg_pipeline: Pipeline) -> Pipeline:
    """The in-process pipeline on the stuck booking's store, its clock past the grace period."""
    install_booking_ports(pg_pipeline.app, pg_pipeline.store, None, None, clock=lambda: datetime.now(UTC) + GRACE)
    return pg_pipeline


def booking_status(pipeline: Pipeline, booking_id: str) -> str:
    BookingChain(pipeline.app, pipeline.broker, pipeline.store, None, None).drain()  # type: ignore[arg-type]
    booking = pipeline.store.bookings.get(booking_id)
    assert booking is not None
    return booking.status


def test_a_scheduler_round_after_the_grace_period_resumes_a_booking_stuck_in_reserved(
    resumed_pipeline: Pipeline
) -> None:
    """The scheduler's round, an hour after the booking stopped, restarts its chain: it ends confirmed."""
    ports = resumed_pipeline.app.ports
    scheduler = Scheduler(ports.store.holds, ports.store.sla_timers, resumed_pipeline.broker, ports.configs, ports.clock,
                          bookings=ports.store.bookings)
    assert scheduler.tick() is not None, "the scheduler's round did not run"
    status = booking_status(resumed_pipeline, booking_id_for(STUCK_REQUEST))
    assert_window_closed(status == BookingStatus.CONFIRMED.value, "a scheduler round resumes a stopped booking",
                         {"status": status})


def test_resubmitting_the_request_resumes_a_booking_stuck_in_reserved(
    stuck_booking: dict[str, Any], resumed_pipeline: Pipeline
) -> None:
    """POST /bookings again with the same ``request_id``: the same booking, and its chain runs to confirmed."""
    answer = TestClient(create_app(resumed_pipeline.app)).post("/bookings", json=stuck_booking, headers=AUTH)
    assert answer.status_code == 202 and answer.json()["booking_id"] == booking_id_for(STUCK_REQUEST), answer.text
    status = booking_status(resumed_pipeline, booking_id_for(STUCK_REQUEST))
    assert_window_closed(status == BookingStatus.CONFIRMED.value, "a resubmission resumes a stopped booking",
                         {"status": status})


# 7. SQLite shifts booking times.

@pytest.fixture
def booking_pipeline(request: pytest.FixtureRequest, stub_runtime: runtime.Runtime,
                     tmp_path: Path) -> Iterator[Pipeline]:
    """The in-process booking API and chain (StubBroker, worker threads) on SQLite (the embedded default)
    or on PostgreSQL, without calendar or Salesforce."""
    if request.param == "postgresql":
        pipeline = request.getfixturevalue("pg_pipeline")
        install_booking_ports(pipeline.app, pipeline.store, None, None)
        yield pipeline
        return
    with running_pipeline(stub_runtime, make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")) as pipeline:
        install_booking_ports(pipeline.app, pipeline.store, None, None)
        yield pipeline


@pytest.mark.parametrize("booking_pipeline", ["sqlite", "postgresql"], indirect=True)
def test_a_booking_at_a_time_with_an_offset_is_kept_at_that_instant(booking_pipeline: Pipeline) -> None:
    """``11:00+02:00`` is booked, stored, reserved and answered as 09:00 UTC (the same instant)."""
    asked_at = datetime.fromisoformat("2030-01-07T11:00:00+02:00")
    client = TestClient(create_app(booking_pipeline.app))
    booked = client.post("/bookings", json=booking_request(start=asked_at.isoformat()), headers=AUTH)
    assert booked.status_code == 202, booked.text
    stored = client.get(booked.json()["status_url"], headers=AUTH).json()
    with booking_pipeline.store.engine.connect() as connection:
        held = [row.starts_at for row in connection.execute(
            sa.select(reservations.c.starts_at).where(reservations.c.booking_id == stored["booking_id"]))]
    answered = {"posted": booked.json()["start"], "read": stored["start"]}
    kept = all(datetime.fromisoformat(value) == asked_at for value in answered.values())
    assert_window_closed(kept, "a booking time is kept at the instant asked",
                         {"asked": asked_at.isoformat(), **answered, "reserved_from": [str(start) for start in held]})


# 8. Blocking calls on the event loop.

def test_health_answers_while_an_outbound_publish_hangs_on_the_broker(tmp_path: Path) -> None:
    """A broker that accepts TCP and never answers: one outbound POST hangs in its publish; meanwhile
    ``/healthz`` of the same web process answers within a couple of seconds."""
    with silent_broker() as broker, web_process(web_env(BATON_BROKER_URL=broker.url), tmp_path) as web, \
            ThreadPoolExecutor(1) as pool:
        before = len(broker.connections)
        posting: Future[requests.Response] = pool.submit(outbound, web, envelope(notification(1)), 60)
        assert broker.wait_for_connection(before), "the outbound POST never reached the broker"
        assert not posting.done(), "the outbound POST answered although the broker never did"
        asked = time.monotonic()
        try:
            health: int | str = requests.get(f"{web.url}/healthz", timeout=HEALTH_BOUND_S).status_code
        except requests.Timeout:
            health = f"no answer within {HEALTH_BOUND_S} s"
        waited = round(time.monotonic() - asked, 2)
        assert not posting.done(), "the publish was no longer hanging when /healthz was asked"
        web.stop(signal.SIGKILL)
    assert_window_closed(health == 200, "/healthz answers while a publish hangs",
                         {"healthz": health, "waited_s": waited})


def test_an_outbound_post_whose_publish_hangs_ends_with_a_503_within_the_publish_bound(tmp_path: Path) -> None:
    """The same silent broker: the publish gives up after ``BATON_BROKER_TIMEOUT_MS`` and Salesforce gets a SOAP
    fault it retries (503), not a request that hangs until its own timeout."""
    bound_s = 1.0
    with silent_broker() as broker, web_process(web_env(BATON_BROKER_URL=broker.url,
                                                        BATON_BROKER_TIMEOUT_MS=str(int(bound_s * 1000))),
                                                tmp_path) as web:
        asked = time.monotonic()
        answer = outbound(web, envelope(notification(1)), timeout_s=60)
        took_s = time.monotonic() - asked
    assert answer.status_code == 503 and "retry later" in answer.text, answer.text
    assert bound_s <= took_s < 30, f"answered after {took_s:.1f} s"  # the bound, with room for a loaded machine
    assert len(broker.connections) >= 1
