"""Booking a record Baton routed: suggestion rules read what routing found (tags, territory, match), and the
"account owner" host option finds the account the match stage matched a lead to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from tests.support.booking import (
    AUTH,
    HOSTS,
    booking_api,
    booking_config,
    booking_request,
    get_availability,
    install_booking_ports,
    lead_id,
)
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

ACCOUNT = "001000000000001AAA"
BIG_LEAD, SMALL_LEAD = 1, 2
CLASSIFICATION = """classification:
  tag_rules:
    - name: big
      when: {field: NumberOfEmployees, op: greater_than, value: 1000}
      tags: [big]
"""
SUGGESTION = f"""      default_host: {{kind: pool, team: Handover}}
      related_owner_updates: [{{lookup_field: ConvertedAccountId}}]
      suggestions:
        - name: big companies meet rep 2
          when: {{field: tags, op: contains, value: big}}
          host: {{kind: user, user_id: "{HOSTS[1]}"}}
          lock_host: true
    Account:"""


def routed_booking_config() -> str:
    text = booking_config().replace("host_options: [pool, user, record_owner]",
                                    "host_options: [pool, user, record_owner, account_owner]", 1)
    lead_end = ("      default_host: {kind: pool, team: Handover}\n"
                "      related_owner_updates: [{lookup_field: ConvertedAccountId}]\n    Account:")
    assert lead_end in text
    text = text.replace(lead_end, SUGGESTION, 1)
    return CLASSIFICATION + text


@pytest.fixture
def client(pipeline: Pipeline, tmp_path: Path) -> Iterator[TestClient]:
    """Two leads routed first: one big (tagged ``big``), one small; the small one's email matches an account
    owned by the third host. The scheduler's request then carries no tags and no account id."""
    install_booking_ports(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    pipeline.apply(routed_booking_config())
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(json.dumps({"Id": ACCOUNT, "Name": "Acme Corporation", "Website": "acme.com",
                                    "OwnerId": HOSTS[2]}) + "\n")
    pipeline.use_reference(accounts=accounts)
    pipeline.send([lead_event(BIG_LEAD, NumberOfEmployees=5000),
                   lead_event(SMALL_LEAD, NumberOfEmployees=10, Email="pat@acme.com")])
    pipeline.drain()
    with booking_api(pipeline.app, pipeline.store) as api:
        yield api


def availability(client: TestClient, number: int, **params: Any) -> Any:
    response = get_availability(client, lead_id(number), **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_suggestion_rule_on_the_routed_tags_picks_and_locks_the_host(client: TestClient) -> None:
    big = availability(client, BIG_LEAD)
    small = availability(client, SMALL_LEAD)

    assert {host for slot in big["slots"] for host in slot["host_ids"]} == {HOSTS[1]}
    assert {host for slot in small["slots"] for host in slot["host_ids"]} == set(HOSTS)  # the pool, unlocked
    refused = client.post("/bookings", headers=AUTH, json=booking_request(
        record_id=lead_id(BIG_LEAD), host={"kind": "pool", "team": "Handover"}))
    assert refused.status_code == 422 and "host" in refused.text


def test_the_account_owner_option_finds_the_account_the_lead_was_matched_to(client: TestClient) -> None:
    answer = availability(client, SMALL_LEAD, host_kind="account_owner")

    assert answer["slots"] and all(slot["host_ids"] == [HOSTS[2]] for slot in answer["slots"])
    booked = client.post("/bookings", headers=AUTH, json=booking_request(
        record_id=lead_id(SMALL_LEAD), host={"kind": "account_owner"}))
    assert booked.status_code == 202, booked.text
    assert booked.json()["host_id"] == HOSTS[2]
