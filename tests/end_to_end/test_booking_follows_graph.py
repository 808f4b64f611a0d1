"""Bookings follow the router graph's suggestion: a locked host or meeting type from the record's routing
decision is the only one the booking API accepts, an unlocked one is only preselected, and a record the graph
never routed is walked at booking time over the fields the request carries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from baton.operations.why import record_trace
from entrypoints.cli.monitor import suggestion_lines
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

BIG_LEAD, SMALL_LEAD, NEVER_ROUTED = 1, 2, 3
POOL = {"kind": "pool", "team": "Handover"}
DEMO_TYPE = """    - name: Demo
      duration_minutes: 60
      slot_step_minutes: 60
  pools:"""
GRAPH = f"""graphs:
  Lead:
    nodes:
      start: {{kind: trigger, next: size}}
      size:
        kind: decision
        condition: {{field: NumberOfEmployees, op: greater_than, value: 1000}}
        then: enterprise
        else: smb
        suggest_booking: {{meeting_type: Demo}}
      enterprise:
        kind: assign_team
        team: Handover
        suggest_booking:
          host: {{kind: user, user_id: "{HOSTS[1]}"}}
          lock_host: true
          meeting_type: Demo
          lock_meeting_type: true
      smb:
        kind: assign_team
        team: Handover
        suggest_booking: {{host: {{kind: user, user_id: "{HOSTS[2]}"}}}}
"""


def graph_booking_config() -> str:
    text = booking_config()
    assert text.count("  pools:") == 1
    return text.replace("  pools:", DEMO_TYPE, 1) + GRAPH


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    """A big lead routed down the graph's enterprise branch (host and type locked), a small one down the smb
    branch (host and type suggested, unlocked); a third lead is never routed."""
    install_booking_ports(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    pipeline.apply(graph_booking_config())
    pipeline.send([lead_event(BIG_LEAD, NumberOfEmployees=5000), lead_event(SMALL_LEAD, NumberOfEmployees=10)])
    pipeline.drain()
    with booking_api(pipeline.app, pipeline.store) as api:
        yield api


def availability(client: TestClient, number: int, **params: Any) -> Any:
    return get_availability(client, lead_id(number), hours=2, **params)


def book(client: TestClient, number: int, **overrides: Any) -> Any:
    return client.post("/bookings", headers=AUTH, json=booking_request(record_id=lead_id(number), **overrides))


def hosts_in(answer: dict[str, Any]) -> set[str]:
    return {host for slot in answer["slots"] for host in slot["host_ids"]}


def refused_fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {error["loc"][-1] for error in response.json()["detail"]}


def test_the_routed_graph_path_locks_host_and_meeting_type_for_availability(client: TestClient) -> None:
    answer = availability(client, BIG_LEAD)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["host"], body["host_locked"]) == ({"kind": "user", "user_id": HOSTS[1]}, True)
    assert (body["booking_type"], body["meeting_type_locked"]) == ("Demo", True)
    assert hosts_in(body) == {HOSTS[1]}
    assert refused_fields(availability(client, BIG_LEAD, host_kind="pool", host_team="Handover")) == {"host"}
    assert refused_fields(availability(client, BIG_LEAD, meeting_type="Intro")) == {"meeting_type"}


def test_a_booking_on_a_locked_record_takes_the_graphs_host_and_type_and_refuses_others(client: TestClient) -> None:
    assert refused_fields(book(client, BIG_LEAD, host=POOL)) == {"host"}
    assert refused_fields(book(client, BIG_LEAD, meeting_type="Intro")) == {"meeting_type"}

    booked = book(client, BIG_LEAD)

    assert booked.status_code == 202, booked.text
    assert (booked.json()["host_id"], booked.json()["booking_type"]) == (HOSTS[1], "Demo")


def test_an_unlocked_graph_suggestion_is_preselected_but_another_choice_is_allowed(client: TestClient) -> None:
    suggested = availability(client, SMALL_LEAD).json()
    other = availability(client, SMALL_LEAD, host_kind="pool", host_team="Handover", meeting_type="Intro")

    assert (suggested["host"], suggested["host_locked"]) == ({"kind": "user", "user_id": HOSTS[2]}, False)
    assert (suggested["booking_type"], suggested["meeting_type_locked"]) == ("Demo", False)
    assert hosts_in(suggested) == {HOSTS[2]}
    assert other.status_code == 200, other.text
    assert other.json()["booking_type"] == "Intro" and hosts_in(other.json()) == set(HOSTS)
    booked = book(client, SMALL_LEAD, host=POOL, meeting_type="Intro")
    assert booked.status_code == 202, booked.text
    assert booked.json()["booking_type"] == "Intro"


def test_the_routing_decisions_suggestion_wins_over_a_walk_of_todays_fields(client: TestClient) -> None:
    """The big lead's request says it is small now; its routing decision (enterprise, locked) still holds."""
    refused = book(client, BIG_LEAD, host=POOL, record_fields={"NumberOfEmployees": 10})

    assert refused_fields(refused) == {"host"}


def test_a_record_never_routed_is_walked_through_the_graph_at_booking_time(client: TestClient) -> None:
    big = {"NumberOfEmployees": 5000}

    assert refused_fields(book(client, NEVER_ROUTED, host=POOL, record_fields=big)) == {"host"}
    booked = book(client, NEVER_ROUTED, record_fields=big)
    assert booked.status_code == 202, booked.text
    assert (booked.json()["host_id"], booked.json()["booking_type"]) == (HOSTS[1], "Demo")
    unknown_size = availability(client, NEVER_ROUTED).json()  # no fields: the graph's smb branch, unlocked
    assert (unknown_size["host"]["user_id"], unknown_size["host_locked"]) == (HOSTS[2], False)


def test_the_routing_decision_records_the_graphs_suggestion_for_baton_why(pipeline: Pipeline,
                                                                          client: TestClient) -> None:
    [decision] = record_trace(lead_id(BIG_LEAD), pipeline.store.operations.record_trace(
        lead_id(BIG_LEAD)))["decisions"]

    suggestion = decision["stages"]["assign"]["booking_suggestion"]
    assert suggestion == {"host": {"kind": "user", "user_id": HOSTS[1], "team": None}, "lock_host": True,
                          "host_node": "enterprise", "meeting_type": "Demo", "lock_meeting_type": True,
                          "meeting_type_node": "enterprise"}
    assert suggestion_lines(suggestion) == [f"host user {HOSTS[1]} (locked, node enterprise)",
                                             "meeting type Demo (locked, node enterprise)"]
