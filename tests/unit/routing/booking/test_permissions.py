"""A scheduler books only the records and hosts the org config's ``booking.schedulers`` grants allow: the API
answers 403 naming why, a queued request is dead-lettered with the reason, and bad grants are config errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from baton.configs import apply_config
from entrypoints.http.app import create_app
from kernel.errors import ConfigError
from routing.booking.config import SchedulerGrant
from routing.booking.permissions import scheduler_refusal
from routing.config import load_config_text
from tests.support.booking import (
    HOSTS,
    NINE,
    NOW,
    SCHEDULER,
    TOKEN,
    BookingChain,
    booking_config,
    booking_request,
    install_booking_ports,
)
from tests.support.pipeline import Pipeline

AE = "005000000000008AAA"
STRANGER = "005000000000007AAA"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRANTS = f"""  schedulers:
    - {{name: sdr, users: ["{SCHEDULER}"], objects: [Lead], pools: [Handover]}}
    - {{name: ae, users: ["{AE[:15]}"], objects: [Account], hosts: ["{HOSTS[0]}"]}}
"""


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    install_booking_ports(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    apply_config(pipeline.store.administration, booking_config() + GRANTS, NOW)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield chain
    chain.drain()


@pytest.fixture
def client(chain: BookingChain) -> TestClient:
    return TestClient(create_app(chain.app))


def book(client: TestClient, **overrides: Any) -> Any:
    return client.post("/bookings", json=booking_request(**overrides), headers=AUTH)


def account(host: str, **overrides: Any) -> dict[str, Any]:
    return {"object_type": "Account", "record_id": "001000000000001AAA", "scheduler_user_id": AE,
            "host": {"kind": "user", "user_id": host}, **overrides}


def test_a_scheduler_books_within_their_grant(client: TestClient) -> None:
    assert book(client).status_code == 202  # sdr: a Lead with the Handover pool
    later = (NINE + timedelta(hours=1)).isoformat()
    assert book(client, **account(HOSTS[0], start=later)).status_code == 202  # ae: an Account, their one host


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"scheduler_user_id": STRANGER}, f"scheduler {STRANGER} is named in no booking.schedulers grant"),
        ({"object_type": "Account", "record_id": "001000000000001AAA"},
         f"scheduler {SCHEDULER} may not book on Account records (grants: sdr)"),
        (account(HOSTS[1]), f"scheduler {AE} may not book {HOSTS[1]} as host (grants: ae)"),
        (account(HOSTS[0], co_hosts=[HOSTS[2]]), f"scheduler {AE} may not book {HOSTS[2]} as co-host (grants: ae)"),
        ({"scheduler_user_id": AE}, f"scheduler {AE} may not book on Lead records (grants: ae)"),
    ],
    ids=["unnamed-scheduler", "object-not-granted", "host-not-granted", "co-host-not-granted", "lead-for-ae"],
)
def test_a_booking_outside_the_grants_is_refused_with_403_naming_why(
    client: TestClient, chain: BookingChain, overrides: dict[str, Any], reason: str
) -> None:
    answer = book(client, **overrides)

    assert answer.status_code == 403 and answer.json()["detail"] == reason
    assert chain.bookings.held_times(HOSTS, NOW, NOW.replace(hour=23)) == {host: [] for host in HOSTS}


def test_a_queued_request_outside_the_grants_is_dead_lettered_with_the_reason(chain: BookingChain) -> None:
    chain.send_request(booking_request(scheduler_user_id=STRANGER, request_id="queued-1"))
    chain.drain()

    [letter] = chain.dead_letters(1)
    assert letter.stage == "booking_request"
    assert f"not allowed: scheduler {STRANGER} is named in no booking.schedulers grant" in letter.reason


def test_availability_for_a_schedulers_token_is_checked_against_their_grants(
    client: TestClient, chain: BookingChain
) -> None:
    from entrypoints.http.auth import BOOKINGS_READ

    token, _ = chain.store.tokens.create("ae", [BOOKINGS_READ], NOW, scheduler_user_id=AE)
    query = {"object_type": "Account", "record_id": "001000000000001AAA", "start": NOW.isoformat(),
             "end": NOW.replace(hour=12).isoformat(), "host_kind": "user"}
    headers = {"Authorization": f"Bearer {token}"}

    assert client.get("/availability", params={**query, "host_user_id": HOSTS[0]}, headers=headers).status_code == 200
    refused = client.get("/availability", params={**query, "host_user_id": HOSTS[1]}, headers=headers)
    assert refused.status_code == 403 and f"may not book {HOSTS[1]} as host" in refused.json()["detail"]


def test_without_grants_anyone_may_book_anything() -> None:
    assert scheduler_refusal([], {}, scheduler_user_id=STRANGER, object_type="Case", host_ids=HOSTS) is None


def test_a_wildcard_grant_and_18_character_ids_match_their_15_character_form() -> None:
    grants = [SchedulerGrant(name="all", users=["*"], pools=["Handover"]),
              SchedulerGrant(name="one", users=[SCHEDULER[:15]], hosts=[HOSTS[2][:15]])]
    pools = {"Handover": list(HOSTS[:2])}

    assert scheduler_refusal(grants, pools, scheduler_user_id=STRANGER, object_type="Lead", host_ids=HOSTS[:2]) is None
    assert scheduler_refusal(grants, pools, scheduler_user_id=SCHEDULER, object_type="Lead", host_ids=HOSTS) is None
    assert "may not book" in (scheduler_refusal(grants, pools, scheduler_user_id=STRANGER, object_type="Lead",
                                                host_ids=HOSTS) or "")


def test_grants_naming_unknown_pools_objects_or_bad_ids_are_config_errors_with_their_paths() -> None:
    bad = """  schedulers:
    - {name: x, users: ["005000000000001AAA"], objects: [Case], pools: [Nobody]}
    - {name: x, users: ["not-an-id"]}
"""
    with pytest.raises(ConfigError) as error:
        load_config_text(booking_config() + bad)

    problems = dict(error.value.problems)
    assert problems["booking.schedulers[1].users"] == "'not-an-id' is not a 15- or 18-character Salesforce user id"
    with pytest.raises(ConfigError) as error:
        load_config_text(booking_config() + bad.replace('"not-an-id"', '"005000000000002AAA"'))
    assert dict(error.value.problems) == {
        "booking.schedulers[0].objects[0]": "Case has no booking settings",
        "booking.schedulers[0].pools[0]": "team 'Nobody' is not a booking pool",
        "booking.schedulers[1].name": "grant 'x' is defined twice",
    }
