"""Guessing credentials is limited per client address (issue 20): after BATON_AUTH_FAILURES_PER_MINUTE failed
authentications (bad bearer tokens, Canvas requests, links, page tokens, outbound paths) an address gets 429 with
Retry-After until the minute ends, even with a valid credential; other addresses are unaffected; the count is in
the store, so every replica sees it; X-Forwarded-For counts only from BATON_TRUSTED_PROXIES."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from adapters.store import Store, make_engine
from baton.runtime import Runtime
from entrypoints.http.app import create_app
from entrypoints.http.auth import METRICS_READ
from entrypoints.http.failures import client_address
from entrypoints.http.page_tokens import HEADER, PageClaims, page_token_for
from tests.support.handoff import NOW, install_handoff, link_url, signed
from tests.support.pipeline import Pipeline

LIMIT = 20
ATTACKER, NEIGHBOUR, PROXY = "10.0.0.5", "10.0.0.6", "10.0.0.1"
START = NOW + timedelta(seconds=15)  # 45 s before the minute ends


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(pipeline: Pipeline, clock: Clock) -> Runtime:
    """The handoff page and the APIs over the pipeline's store, on a clock the test moves."""
    install_handoff(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    pipeline.app.ports = dataclasses.replace(pipeline.app.ports, clock=clock)
    pipeline.app.settings = pipeline.app.settings.model_copy(update={
        "booking_token": None, "outbound_token": "outbound-path-secret", "trusted_proxies": PROXY})
    return pipeline.app


@pytest.fixture
def second_engine(pipeline: Pipeline) -> Iterator[Engine]:
    """Another connection pool to the pipeline's store, as a second web replica would have."""
    engine = make_engine(pipeline.store.engine.url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def client_at(app: Runtime, address: str) -> TestClient:
    return TestClient(create_app(app), client=(address, 40_000))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metrics_token(app: Runtime) -> str:
    token, _ = app.ports.store.tokens.create("scraper", [METRICS_READ], NOW)
    return token


def assert_limited(answer: Response, retry_after: int, address: str = ATTACKER) -> None:
    assert answer.status_code == 429, (answer.status_code, answer.text)
    assert answer.headers["retry-after"] == str(retry_after)
    detail = answer.json()["detail"]
    assert f"too many failed authentications from {address}" in detail and "BATON_AUTH_FAILURES_PER_MINUTE" in detail


def test_the_21st_bad_bearer_token_of_an_address_is_a_429_and_so_is_its_valid_token_until_the_minute_ends(
    app: Runtime, clock: Clock,
) -> None:
    good = bearer(metrics_token(app))
    attacker, neighbour = client_at(app, ATTACKER), client_at(app, NEIGHBOUR)

    guesses = [attacker.get("/metrics", headers=bearer(f"baton_guess{n}")).status_code for n in range(LIMIT)]
    assert guesses == [401] * LIMIT
    assert_limited(attacker.get("/metrics", headers=bearer("baton_guess-21")), retry_after=45)
    assert_limited(attacker.get("/metrics", headers=good), retry_after=45)
    assert_limited(attacker.post("/bookings", json={}, headers=good), retry_after=45)  # every bearer endpoint

    assert neighbour.get("/metrics", headers=good).status_code == 200
    assert neighbour.get("/metrics", headers=bearer("baton_typo")).status_code == 401

    clock.now = START + timedelta(seconds=30)
    assert_limited(attacker.get("/metrics", headers=good), retry_after=15)
    clock.now = NOW + timedelta(seconds=60)  # the next minute
    assert attacker.get("/metrics", headers=good).status_code == 200
    assert attacker.get("/metrics", headers=bearer("baton_guess-22")).status_code == 401


def test_a_request_without_a_token_or_with_a_valid_one_counts_no_failure(app: Runtime) -> None:
    attacker, good = client_at(app, ATTACKER), bearer(metrics_token(app))
    for _ in range(LIMIT + 5):
        assert attacker.get("/metrics").status_code == 401
        assert attacker.get("/metrics", headers=good).status_code == 200


def test_bad_canvas_posts_are_limited_and_then_a_valid_signed_request_is_refused_too(
    app: Runtime, clock: Clock,
) -> None:
    attacker, neighbour = client_at(app, ATTACKER), client_at(app, NEIGHBOUR)
    forged = signed(secret="a-guessed-consumer-secret")

    answers = [attacker.post("/handoff/canvas", data={"signed_request": forged}).status_code for _ in range(LIMIT)]
    assert answers == [401] * LIMIT
    assert_limited(attacker.post("/handoff/canvas", data={"signed_request": forged}), retry_after=45)
    assert_limited(attacker.post("/handoff/canvas", data={"signed_request": signed()}), retry_after=45)

    opened = neighbour.post("/handoff/canvas", data={"signed_request": signed()})
    assert opened.status_code == 200 and "baton-page-token" in opened.text

    clock.now = NOW + timedelta(seconds=60)
    assert attacker.post("/handoff/canvas", data={"signed_request": signed()}).status_code == 200


def test_bad_page_tokens_links_and_outbound_paths_add_up_and_close_every_door_of_the_address(
    app: Runtime, clock: Clock,
) -> None:
    attacker, neighbour = client_at(app, ATTACKER), client_at(app, NEIGHBOUR)
    claims = PageClaims("005000000000001AAA", "Sam Scheduler", "Lead", "00Q000000000001AAA", "Europe/London")
    page_token = page_token_for(claims, app.settings, NOW)
    link = link_url(app, "")

    refused = [attacker.get("/handoff/availability", headers={HEADER: f"{page_token}x{n}"}).status_code
               for n in range(8)]
    refused += [attacker.get(f"/handoff?link={link}x{n}").status_code for n in range(6)]
    refused += [attacker.post(f"/salesforce/outbound/guess{n}", content=b"<x/>",
                              headers={"Content-Type": "text/xml"}).status_code for n in range(6)]
    assert refused == [401] * 14 + [404] * 6

    assert_limited(attacker.get("/handoff/availability", headers={HEADER: page_token}), retry_after=45)
    assert_limited(attacker.get(link), retry_after=45)
    assert_limited(attacker.post("/salesforce/outbound/outbound-path-secret", content=b"<x/>",
                                 headers={"Content-Type": "text/xml"}), retry_after=45)
    assert_limited(attacker.get("/metrics", headers=bearer(metrics_token(app))), retry_after=45)

    assert neighbour.get("/handoff/availability", headers={HEADER: page_token}).status_code == 200
    assert neighbour.get(link).status_code == 200
    clock.now = NOW + timedelta(seconds=60)
    assert attacker.get("/handoff/availability", headers={HEADER: page_token}).status_code == 200


def test_x_forwarded_for_from_an_untrusted_peer_changes_nothing(app: Runtime) -> None:
    attacker, good = client_at(app, ATTACKER), bearer(metrics_token(app))

    for n in range(LIMIT):
        spoofed = {"X-Forwarded-For": f"198.51.100.{n}", **bearer(f"baton_guess{n}")}
        assert attacker.get("/metrics", headers=spoofed).status_code == 401
    assert_limited(attacker.get("/metrics", headers={"X-Forwarded-For": "198.51.100.99", **good}), retry_after=45)


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(app: Runtime) -> None:
    proxy, good = client_at(app, PROXY), bearer(metrics_token(app))
    first, second = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}

    for n in range(LIMIT):
        assert proxy.get("/metrics", headers={**first, **bearer(f"baton_guess{n}")}).status_code == 401
    assert_limited(proxy.get("/metrics", headers={**first, **good}), retry_after=45, address="203.0.113.7")
    # what the client wrote left of the proxy's own entry does not get it out
    spoofing = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7", **good}
    assert_limited(proxy.get("/metrics", headers=spoofing), retry_after=45, address="203.0.113.7")

    assert proxy.get("/metrics", headers={**second, **good}).status_code == 200
    assert client_at(app, NEIGHBOUR).get("/metrics", headers=good).status_code == 200


def test_replicas_over_one_store_share_the_count(app: Runtime, second_engine: Engine) -> None:
    replica = dataclasses.replace(app, ports=dataclasses.replace(app.ports, store=Store(second_engine)))
    one, other = client_at(app, ATTACKER), client_at(replica, ATTACKER)
    good = bearer(metrics_token(app))

    for n in range(LIMIT // 2):
        assert one.get("/metrics", headers=bearer(f"baton_guess{n}")).status_code == 401
        assert other.post("/handoff/canvas", data={"signed_request": f"forged{n}.x"}).status_code == 401
    assert_limited(one.get("/metrics", headers=good), retry_after=45)
    assert_limited(other.get("/metrics", headers=good), retry_after=45)
    assert client_at(replica, NEIGHBOUR).get("/metrics", headers=good).status_code == 200


def test_the_store_down_gives_503_while_the_metrics_token_of_the_settings_still_scrapes(pipeline: Pipeline) -> None:
    broken = Store(make_engine("sqlite:////no/such/directory/baton.sqlite3"))
    app = pipeline.app
    app.settings = app.settings.model_copy(update={"metrics_token": "scrape-me", "booking_token": None})
    app.ports = dataclasses.replace(app.ports, store=broken)
    client = client_at(app, ATTACKER)

    refused = client.get("/metrics", headers=bearer("baton_guess"))
    assert refused.status_code == 503 and "cannot check the failed authentications now" in refused.json()["detail"]
    assert client.get("/metrics", headers=bearer("scrape-me")).status_code == 200


PROXIES = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(("peer", "forwarded", "address"), [
    ("192.0.2.10", ["198.51.100.1"], "192.0.2.10"),  # not a proxy: its header is ignored
    ("10.0.0.1", [], "10.0.0.1"),  # a proxy without the header is the client
    ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ("10.0.0.1", ["198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # two trusted hops
    ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client's own entry left of the proxy's
    ("10.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # the header twice, in order
    ("fd00::1", ["2001:DB8::1"], "2001:db8::1"),
    ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # an IPv4-mapped peer is its IPv4 address
    ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # all proxies: the leftmost
    ("10.0.0.1", ["not-an-address"], "not-an-address"),
])
def test_the_client_address(peer: str, forwarded: list[str], address: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == address


def test_trusted_proxies_must_be_addresses_or_networks(app: Runtime) -> None:
    from pydantic import ValidationError

    from baton.settings import Settings

    with pytest.raises(ValidationError, match="not an IP address or CIDR network: proxy.local"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.local")
    assert Settings(trusted_proxies="10.0.0.0/8, 2001:db8::1").proxy_networks[1] == ipaddress.ip_network("2001:db8::1")
