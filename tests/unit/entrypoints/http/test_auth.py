"""API credentials: tokens made by ``baton tokens``, stored as digests, checked for scope, revocable and
expiring; the booking API rate-limited per token; a scheduler's token books only as that scheduler."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from entrypoints.http.app import create_app
from entrypoints.http.auth import BOOKINGS_READ, BOOKINGS_WRITE, EVENTS_WRITE, METRICS_READ
from kernel.ports.tokens import TokenRepository
from tests.support import cdc_samples as cdc
from tests.support.booking import (
    NINE,
    NOW,
    SCHEDULER,
    BookingChain,
    booking_request,
    install_booking_ports,
)
from tests.support.cli import run_baton
from tests.support.pipeline import Pipeline

OTHER_SCHEDULER = "005000000000008AAA"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chain(pipeline: Pipeline, clock: Clock) -> Iterator[BookingChain]:
    calendar, events = RecordingCalendar(), RecordingSalesforceEvents()
    install_booking_ports(pipeline.app, pipeline.store, calendar, events, clock=clock, booking_token=None,
                          booking_rate_per_minute=5)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, calendar, events)
    yield chain
    chain.drain()


@pytest.fixture
def tokens(chain: BookingChain) -> TokenRepository:
    return chain.store.tokens


@pytest.fixture
def client(chain: BookingChain) -> TestClient:
    return TestClient(create_app(chain.app))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make(tokens: TokenRepository, *scopes: str, **options: Any) -> str:
    token, _ = tokens.create("test", scopes, NOW, **options)
    return token


def relay(client: TestClient, headers: dict[str, str]) -> Any:
    event = cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12)
    return client.post("/salesforce/events", json=event, headers=headers)


def test_a_token_made_by_the_cli_is_shown_once_and_only_its_digest_is_stored(tmp_path: Path) -> None:
    database = tmp_path / "tokens.sqlite3"
    made = run_baton(f"sqlite:///{database}", "tokens", "create", "--name", "relay", "--scope", EVENTS_WRITE,
                     "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    listed = run_baton(f"sqlite:///{database}", "tokens", "list", "--json")

    assert token.startswith("baton_") and token not in listed.stdout and '"scopes": ["events:write"]' in listed.stdout
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    assert token not in dump and token.split("_", 2)[2] not in dump
    refused = run_baton(f"sqlite:///{database}", "tokens", "create", "--name", "x", "--scope", "admin")
    assert refused.returncode == 2 and "--scope: unknown admin" in refused.stderr


def test_the_relay_takes_a_stored_token_with_events_write_and_refuses_the_rest(
    client: TestClient, tokens: TokenRepository, clock: Clock
) -> None:
    good = make(tokens, EVENTS_WRITE)
    wrong_scope = make(tokens, BOOKINGS_READ)
    expiring = make(tokens, EVENTS_WRITE, expires_at=NOW + timedelta(hours=1))

    assert relay(client, bearer(good)).status_code == 202
    assert relay(client, bearer(expiring)).status_code == 202
    missing = relay(client, {})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert relay(client, bearer(good + "x")).json()["detail"] == "unknown bearer token"
    forbidden = relay(client, bearer(wrong_scope))
    assert forbidden.status_code == 403 and "lacks the scope events:write" in forbidden.json()["detail"]
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]

    clock.now = NOW + timedelta(hours=2)
    assert relay(client, bearer(expiring)).json()["detail"].endswith("is expired")


def test_a_revoked_token_is_refused_at_its_next_request(tmp_path: Path, pipeline: Pipeline) -> None:
    current = pipeline.app
    current.settings, current.ports = current.settings.model_copy(update={"events_token": None}), current.ports
    token, stored = pipeline.store.tokens.create("relay", [EVENTS_WRITE], NOW)
    client = TestClient(create_app(pipeline.app))
    assert relay(client, bearer(token)).status_code == 202

    revoked = run_baton(str(pipeline.store.engine.url), "tokens", "revoke", stored.id)

    assert revoked.returncode == 0 and revoked.stdout == f"revoked {stored.id}\n"
    answer = relay(client, bearer(token))
    assert answer.status_code == 401 and answer.json()["detail"] == f"token {stored.id} is revoked"


def test_metrics_need_metrics_read(client: TestClient, tokens: TokenRepository) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(make(tokens, BOOKINGS_READ))).status_code == 403
    assert client.get("/metrics", headers=bearer(make(tokens, METRICS_READ))).status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_booking_scopes_split_reading_from_booking(client: TestClient, tokens: TokenRepository) -> None:
    reader = bearer(make(tokens, BOOKINGS_READ))
    writer = bearer(make(tokens, BOOKINGS_WRITE))

    assert client.post("/bookings", json=booking_request(), headers=reader).status_code == 403
    booked = client.post("/bookings", json=booking_request(), headers=writer)
    assert booked.status_code == 202, booked.text
    assert client.get(booked.json()["status_url"], headers=reader).status_code == 200
    assert client.get(booked.json()["status_url"], headers=writer).status_code == 403


def test_the_booking_api_limits_each_token_per_minute_with_retry_after(
    client: TestClient, tokens: TokenRepository, clock: Clock
) -> None:
    busy = bearer(make(tokens, BOOKINGS_READ))
    other = bearer(make(tokens, BOOKINGS_READ))
    generous = bearer(make(tokens, BOOKINGS_READ, rate_per_minute=50))
    clock.now = NOW + timedelta(seconds=15)

    answers = [client.get("/bookings/nothing", headers=busy).status_code for _ in range(6)]

    assert answers == [404] * 5 + [429]  # BATON_BOOKING_RATE_PER_MINUTE=5 in this test
    limited = client.get("/bookings/nothing", headers=busy)
    assert limited.headers["retry-after"] == "45" and "over 5 requests a minute" in limited.json()["detail"]
    assert client.get("/bookings/nothing", headers=other).status_code == 404
    assert [client.get("/bookings/nothing", headers=generous).status_code for _ in range(8)] == [404] * 8
    clock.now = NOW + timedelta(seconds=60)
    assert client.get("/bookings/nothing", headers=busy).status_code == 404


def test_a_schedulers_token_books_only_as_that_scheduler_and_sees_only_their_bookings(
    client: TestClient, tokens: TokenRepository
) -> None:
    mine = bearer(make(tokens, BOOKINGS_READ, BOOKINGS_WRITE, scheduler_user_id=SCHEDULER))
    other = bearer(make(tokens, BOOKINGS_READ, BOOKINGS_WRITE, scheduler_user_id=OTHER_SCHEDULER))

    impersonating = client.post("/bookings", json=booking_request(), headers=other)
    assert impersonating.status_code == 403
    assert impersonating.json()["detail"].endswith(f"books as scheduler {OTHER_SCHEDULER}, not {SCHEDULER}")
    booked = client.post("/bookings", json=booking_request(scheduler_user_id=None), headers=mine)
    assert booked.status_code == 202, booked.text
    status_url = booked.json()["status_url"]
    assert client.get(status_url, headers=mine).status_code == 200
    assert client.get(status_url, headers=other).status_code == 404
    assert client.post("/bookings/meet-now", json={**booking_request(), "start": None}, headers=other).status_code == 403
    assert NINE.isoformat() == booked.json()["start"]


def test_another_schedulers_request_id_is_a_409_that_tells_nothing_of_their_booking(
    client: TestClient, tokens: TokenRepository
) -> None:
    """The attack of issue 20: scheduler B's token resubmits scheduler A's ``request_id``."""
    mine = bearer(make(tokens, BOOKINGS_READ, BOOKINGS_WRITE, scheduler_user_id=SCHEDULER))
    other = bearer(make(tokens, BOOKINGS_READ, BOOKINGS_WRITE, scheduler_user_id=OTHER_SCHEDULER))
    request = booking_request(scheduler_user_id=None, request_id="a-schedulers-key")
    booked = client.post("/bookings", json=request, headers=mine)
    assert booked.status_code == 202, booked.text
    booking = booked.json()

    attack = client.post("/bookings", headers=other, json=booking_request(
        scheduler_user_id=None, request_id="a-schedulers-key", guest_email="mallory@attacker.example.org",
        start=(NINE + timedelta(hours=1)).isoformat()))

    assert attack.status_code == 409, attack.text
    assert "already used by another caller" in attack.json()["detail"]
    for secret in (booking["guest_email"], booking["booking_id"], booking["start"], booking["host_id"],
                   booking["end"]):
        assert secret not in attack.text
    again = client.post("/bookings", json=request, headers=mine)  # the same scheduler: its booking, as before
    assert again.status_code == 202 and again.json()["booking_id"] == booking["booking_id"], again.text
