"""The booking type decides the Salesforce Event's Assigned To and extra Event fields (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.writer import SalesforceOwnerWriter
from adapters.salesforce.events import RecordingSalesforceEvents
from baton.configs import apply_config
from entrypoints.demo.fake_salesforce import fake_salesforce
from entrypoints.http.app import create_app
from kernel.errors import ConfigError
from routing.config import load_config_text
from tests.support.booking import (
    AUTH,
    HOSTS,
    NINE,
    NOW,
    SCHEDULER,
    BookingChain,
    booking_config,
    booking_request,
    install_booking_ports,
)
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

PLATFORM = "      meeting_platform: google_meet\n"


def with_type_keys(keys: str) -> str:
    return booking_config().replace(PLATFORM, PLATFORM + keys)


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield chain
    chain.drain()


def book(chain: BookingChain, type_keys: str) -> dict[str, object]:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events)
    apply_config(chain.store.administration, with_type_keys(type_keys), NOW)
    client = TestClient(create_app(chain.app))
    answer = client.post("/bookings", json=booking_request(start=NINE.isoformat(),
                                                           host={"kind": "user", "user_id": HOSTS[0]}), headers=AUTH)
    assert answer.status_code == 202, answer.json()
    chain.drain()
    booked = client.get(answer.json()["status_url"], headers=AUTH).json()
    assert booked["status"] == "confirmed", booked
    return chain.events.events[booked["booking_id"]]


def test_by_default_the_event_is_assigned_to_the_host_with_only_batons_fields(chain: BookingChain) -> None:
    event = book(chain, "")

    assert event["OwnerId"] == HOSTS[0]
    assert "Type" not in event


def test_a_booking_type_assigns_the_event_to_the_scheduler_and_sets_more_event_fields(chain: BookingChain) -> None:
    event = book(chain, "      event_assigned_to: scheduler\n"
                        "      event_fields: {Type: Meeting, Baton_Handover__c: true, Priority__c: 2}\n")

    assert event["OwnerId"] == SCHEDULER
    assert (event["Type"], event["Baton_Handover__c"], event["Priority__c"]) == ("Meeting", True, 2)
    assert event["Subject"].startswith("Intro: ")


@pytest.mark.parametrize(("keys", "problem"), [
    ("      event_fields: {Subject: Hi}\n", "Subject is set by Baton itself"),
    ("      event_fields: {'Bad Name': x}\n", "'Bad Name' is not a Salesforce field API name"),
    ("      event_assigned_to: guest\n", "Input should be 'host' or 'scheduler'"),
])
def test_bad_event_settings_are_refused_with_their_path(keys: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config_text(with_type_keys(keys))

    assert "booking.types[0].event_" in str(refused.value) and problem in str(refused.value)


HOST_FIELD = "      related_owner_updates: [{lookup_field: ConvertedAccountId}]\n"


def test_a_booking_gives_its_host_to_the_user_field_the_object_names_not_the_owner(
        pipeline: Pipeline, chain: BookingChain) -> None:
    """``owner_field: SDR__c``: the host reaches the fake org in SDR__c through the outbox, OwnerId is left as
    it was, no owner decision is stored for the record; a related update to OwnerId still moves that owner."""
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events)
    apply_config(chain.store.administration, booking_config().replace(
        HOST_FIELD, "      related_owner_updates: [{lookup_field: ConvertedAccountId}, "
                    "{lookup_field: PartnerAccountId, owner_field: Partner_Host__c}]\n      owner_field: SDR__c\n"),
        NOW)
    client = TestClient(create_app(chain.app))
    fields = {"ConvertedAccountId": "001000000000001AAA", "PartnerAccountId": "001000000000002AAA"}
    request = booking_request(start=NINE.isoformat(), host={"kind": "user", "user_id": HOSTS[0]},
                              record_fields=fields)
    with fake_salesforce() as (org, salesforce):
        pipeline.use_writer(SalesforceOwnerWriter(salesforce))
        answer = client.post("/bookings", json=request, headers=AUTH)
        chain.drain()
        pipeline.flush()

    booked = client.get(answer.json()["status_url"], headers=AUTH).json()
    assert booked["status"] == "confirmed"
    record_id = request["record_id"]
    assert org.field_values[record_id] == {"SDR__c": HOSTS[0]}
    assert record_id not in org.owners  # OwnerId untouched
    assert org.owners == {"001000000000001AAA": HOSTS[0]}
    assert org.field_values["001000000000002AAA"] == {"Partner_Host__c": HOSTS[0]}
    with chain.store.decisions.reader() as reader:
        assert reader.record_states([("Lead", record_id)]) == {}  # no owner decision for the record


def test_two_bookings_host_fields_follow_the_newer_and_never_supersede_an_owner_write(
        pipeline: Pipeline, chain: BookingChain) -> None:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events)
    apply_config(chain.store.administration, booking_config().replace(
        HOST_FIELD, HOST_FIELD + "      owner_field: SDR__c\n"), NOW)
    client = TestClient(create_app(chain.app))
    first = client.post("/bookings", json=booking_request(
        start=NINE.isoformat(), host={"kind": "user", "user_id": HOSTS[0]}, request_id="first"), headers=AUTH)
    second = client.post("/bookings", json=booking_request(
        start=NINE.isoformat(), host={"kind": "user", "user_id": HOSTS[1]}, request_id="second",
        guest_email="other@prospect.example.org"), headers=AUTH)
    assert (first.status_code, second.status_code) == (202, 202)
    chain.drain()
    pipeline.route()  # a routing decision of the same record queues its OwnerId write too
    with fake_salesforce() as (org, salesforce):
        pipeline.use_writer(SalesforceOwnerWriter(salesforce))
        pipeline.send([lead_event(1)])
        pipeline.drain()

    record_id = booking_request()["record_id"]
    assert org.field_values[record_id] == {"SDR__c": HOSTS[1]}
    assert [entry.get("SDR__c") for call in org.calls if call["method"] == "PATCH"
            for entry in call["payload"]["records"] if entry["id"] == record_id and "SDR__c" in entry] == [HOSTS[1]]
    assert record_id in org.owners  # the routing decision's owner was written, not superseded by a host field
