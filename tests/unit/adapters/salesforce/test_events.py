"""Salesforce Event upsert on an external id, through simple-salesforce against the fake org over HTTPS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from adapters.salesforce.auth import ClientCredentials, connect
from adapters.salesforce.events import RecordingSalesforceEvents, SalesforceEventWriter
from baton.bootstrap import build_salesforce_events
from baton.settings import Settings
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.errors import InputError, PermanentError, TransientError

FIELDS = {
    "Subject": "Demo: Ada Guest with Grace Host (booked by Linus Rep)",
    "StartDateTime": "2026-11-24T15:00:00.000+0000",
    "EndDateTime": "2026-11-24T15:30:00.000+0000",
    "OwnerId": "005000000000001AAA",
    "WhoId": "00Q000000000001AAA",
}


@pytest.fixture
def org() -> Iterator[tuple[FakeOrg, Salesforce]]:
    with fake_salesforce() as pair:
        yield pair


def _login(fake: FakeOrg, logins: list[str]) -> Callable[[], Salesforce]:
    session = requests.Session()
    session.trust_env, session.verify = False, fake.ca_file

    def login() -> Salesforce:
        logins.append("login")
        return connect(ClientCredentials(fake.url, "consumer-key", fake.client_secret), session)

    return login


def test_upsert_creates_then_updates_one_event_with_baton_headers(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    events = SalesforceEventWriter(client)

    created = events.upsert_event("booking-1", FIELDS)
    updated = events.upsert_event("booking-1", {**FIELDS, "Subject": "Demo (moved)"})

    assert created == updated
    assert list(fake.events.records) == ["booking-1"]
    record = fake.events.records["booking-1"]
    assert record["Id"] == created and record["Subject"] == "Demo (moved)"
    assert record["Baton_Booking_Id__c"] == "booking-1" and record["WhoId"] == "00Q000000000001AAA"
    patches = [call for call in fake.calls if call["method"] == "PATCH"]
    assert [call["path"] for call in patches] == ["/services/data/v61.0/sobjects/Event/Baton_Booking_Id__c/booking-1"] * 2
    assert all(call["headers"]["Sforce-Auto-Assign"] == "FALSE" for call in patches)
    assert all(call["headers"]["Sforce-Call-Options"] == "client=baton" for call in patches)


def test_an_update_answered_204_reads_the_event_id(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.events.update_status = 204
    events = SalesforceEventWriter(client)

    first = events.upsert_event("booking-2", FIELDS)

    assert events.upsert_event("booking-2", FIELDS) == first
    assert events.calls == {"upsert": 2, "get": 1}


def test_a_configured_external_id_field_is_used_and_special_characters_are_escaped(
    org: tuple[FakeOrg, Salesforce],
) -> None:
    fake, client = org
    fake.events.external_id_field = "Booking_Key__c"
    events = SalesforceEventWriter(client, external_id_field="Booking_Key__c")

    events.upsert_event("b/7 x", FIELDS)

    assert list(fake.events.records) == ["b/7 x"]
    assert fake.calls[-1]["path"].endswith("/sobjects/Event/Booking_Key__c/b%2F7%20x")


def test_an_expired_session_logs_in_again_and_the_event_is_written_once(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, _ = org
    logins: list[str] = []
    events = SalesforceEventWriter(login=_login(fake, logins))
    events.upsert_event("booking-3", FIELDS)
    fake.fail_next_calls(401)

    events.upsert_event("booking-3", {**FIELDS, "Subject": "again"})

    assert logins == ["login", "login"]
    assert len(fake.events.records) == 1 and fake.events.records["booking-3"]["Subject"] == "again"


@pytest.mark.parametrize("status", [503, 429])
def test_unavailable_or_rate_limited_salesforce_is_transient(org: tuple[FakeOrg, Salesforce], status: int) -> None:
    fake, client = org
    fake.fail_next_calls(status)

    with pytest.raises(TransientError, match=f"Salesforce answered {status} to the Event upsert"):
        SalesforceEventWriter(client).upsert_event("booking-4", FIELDS)
    assert fake.events.records == {}


def test_a_locked_row_is_transient_and_a_missing_field_is_permanent(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    events = SalesforceEventWriter(client)
    fake.events.fail_next("UNABLE_TO_LOCK_ROW")

    with pytest.raises(TransientError, match="UNABLE_TO_LOCK_ROW"):
        events.upsert_event("booking-5", FIELDS)
    with pytest.raises(PermanentError, match="REQUIRED_FIELD_MISSING"):
        events.upsert_event("booking-5", {"Subject": "no times"})


def test_the_external_id_field_in_the_fields_is_refused_before_calling(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    calls = len(fake.calls)

    with pytest.raises(InputError, match="Baton_Booking_Id__c"):
        SalesforceEventWriter(client).upsert_event("booking-6", {**FIELDS, "Baton_Booking_Id__c": "booking-6"})
    assert len(fake.calls) == calls


def test_delete_removes_the_event_and_a_second_delete_is_fine(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    events = SalesforceEventWriter(client)
    events.upsert_event("booking-7", FIELDS)

    events.delete_event("booking-7")
    events.delete_event("booking-7")

    assert fake.events.records == {} and fake.events.deleted == ["booking-7"]


def test_unreachable_salesforce_is_transient() -> None:
    client = Salesforce(instance_url="https://127.0.0.1:9", session_id="x", version="61.0")

    with pytest.raises(TransientError, match="could not be reached"):
        SalesforceEventWriter(client).delete_event("booking-8")


def test_settings_give_an_event_writer_only_with_a_connected_app() -> None:
    assert build_salesforce_events(Settings(_env_file=None)) is None
    writer = build_salesforce_events(Settings(salesforce_client_id="key", salesforce_client_secret="s",
                                              salesforce_event_external_id_field="Booking_Key__c"))
    assert isinstance(writer, SalesforceEventWriter) and writer.external_id_field == "Booking_Key__c"


def test_recording_events_upsert_one_event_per_external_id_and_inject_failures() -> None:
    events = RecordingSalesforceEvents()
    first = events.upsert_event("b1", {"Subject": "a"})
    assert events.upsert_event("b1", {"Subject": "b"}) == first
    assert events.events == {"b1": {"Subject": "b", "Id": first}}
    events.fail_next(TransientError("down"))
    with pytest.raises(TransientError):
        events.delete_event("b1")
    events.delete_event("b1")
    assert events.deleted == ["b1"] and events.events == {}
