"""The fake Salesforce and fake Google Calendar fail like the real services, seen through Baton's real clients:
a write refused before it happens, carried out and answered 5xx, carried out and its connection dropped, or
answered slowly; the fakes' state shows whether the write was carried out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
import requests
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from simple_salesforce import Salesforce

from adapters.calendar import CalendarEvent, calendar_event_id
from adapters.calendar.google import EVENTS_SCOPE, GoogleCalendar, load_service_account
from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.session import UNREACHABLE
from adapters.salesforce.writer import SalesforceOwnerWriter
from entrypoints.demo.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from entrypoints.demo.fake_faults import (
    APPLIED_THEN_5XX,
    APPLIED_THEN_DROPPED,
    READ_FAULTS,
    SLOW,
    WRITE_FAULTS,
)
from entrypoints.demo.fake_salesforce import (
    COLLECTIONS_PATH,
    RANDOM_FAULTS,
    FakeOrg,
    fake_salesforce,
)
from kernel.errors import TransientError
from kernel.ports import OwnerChange

OWNER = "005000000000001AAA"
LEAD = "00Q000000000001AAA"
HOST = "grace@example.com"
NEW_HOST = "alan@example.com"
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
EVENT_FIELDS = {"Subject": "Demo", "StartDateTime": "2026-11-24T15:00:00.000+0000",
                "EndDateTime": "2026-11-24T15:30:00.000+0000", "OwnerId": OWNER, "WhoId": LEAD}
QUICK_S = (0.05, 0.05)


@pytest.fixture
def org() -> Iterator[tuple[FakeOrg, Salesforce]]:
    with fake_salesforce() as pair:
        yield pair


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGoogleCalendar]:
    with fake_google_calendar(tmp_path, error_statuses=(500, 502, 503)) as server:
        yield server


def _calendar(fake: FakeGoogleCalendar, timeout_ms: int = 10_000) -> GoogleCalendar:
    assert fake.key_file is not None
    return GoogleCalendar(load_service_account(fake.key_file), "admin@example.com", fake.api_url, timeout_ms)


def _event(booking_id: str = "booking-1", organizer: str = HOST) -> CalendarEvent:
    return CalendarEvent(calendar_event_id(booking_id), organizer, "Demo", "Booked by Baton", START,
                         START + timedelta(minutes=30), ("ada@prospect.io",), False)


def _google_events(fake: FakeGoogleCalendar, subject: str = HOST) -> Any:
    """google-api-python-client's ``events()`` resource as ``subject``, built as the adapter builds it."""
    assert fake.key_file is not None
    credentials = service_account.Credentials.from_service_account_info(
        json.loads(fake.key_file.read_text())).with_scopes([EVENTS_SCOPE]).with_subject(subject)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=10))
    return build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": fake.api_url}).events()


def _write_owner(client: Salesforce, record_id: str = LEAD, owner_id: str = OWNER) -> tuple[bool, str, str | None]:
    [result] = SalesforceOwnerWriter(client).write([OwnerChange(f"r-{record_id}", "Lead", record_id, owner_id)])
    return result.ok, result.status, result.error


def _collection_calls(fake: FakeOrg) -> list[dict[str, Any]]:
    return [call for call in fake.calls if call["path"] == COLLECTIONS_PATH]


# Salesforce: sObject Collections (the owner writer) -------------------------------------------------------------

def test_a_refused_owner_write_is_retried_and_not_carried_out(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.next_outcomes("refused")

    ok, status, error = _write_owner(client)

    assert (ok, status) == (False, "retry") and "503" in str(error)
    assert fake.owners == {}


def test_an_owner_write_answered_5xx_was_carried_out_all_the_same(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.next_outcomes(APPLIED_THEN_5XX)

    ok, status, error = _write_owner(client)

    assert (ok, status) == (False, "retry") and "Salesforce answered 50" in str(error)
    assert fake.owners == {LEAD: OWNER} and fake.injected == {APPLIED_THEN_5XX: 1}


def test_an_owner_write_whose_connection_drops_is_unreachable_but_carried_out(
    org: tuple[FakeOrg, Salesforce],
) -> None:
    fake, client = org
    fake.next_outcomes(APPLIED_THEN_DROPPED)

    ok, status, error = _write_owner(client)

    assert (ok, status) == (False, "retry") and str(error).startswith(UNREACHABLE)
    assert fake.owners == {LEAD: OWNER} and fake.injected == {APPLIED_THEN_DROPPED: 1}


def test_a_slow_owner_write_is_answered_late_and_carried_out(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.slow_answer_s = (0.5, 0.5)
    fake.next_outcomes(SLOW)

    began = time.monotonic()
    ok, status, _ = _write_owner(client)

    assert (ok, status) == (True, "sent") and time.monotonic() - began >= 0.5
    assert fake.owners == {LEAD: OWNER}


def test_a_slow_answer_past_the_client_timeout_leaves_the_write_carried_out(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.slow_answer_s = (2.0, 2.0)
    fake.next_outcomes(SLOW)
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "id": LEAD, "OwnerId": OWNER}]}

    with pytest.raises(requests.Timeout):
        client.session.patch(f"{fake.url}{COLLECTIONS_PATH}", json=body, headers=client.headers, timeout=0.5)

    assert fake.owners == {LEAD: OWNER}


def test_scripted_outcomes_apply_to_writes_in_order_and_ok_lets_one_through(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.next_outcomes("ok", APPLIED_THEN_5XX)

    first = _write_owner(client, "00Q000000000001AAA")
    client.query_all("SELECT Id, OwnerId FROM Lead")  # a read takes no scripted outcome
    second = _write_owner(client, "00Q000000000002AAA")

    assert first[1] == "sent" and second[1] == "retry"
    assert set(fake.owners) == {"00Q000000000001AAA", "00Q000000000002AAA"}


def test_an_answer_to_drop_still_drops_the_next_write_after_carrying_it_out(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.answers_to_drop = 1

    assert _write_owner(client)[1] == "retry"
    assert fake.owners == {LEAD: OWNER}


def test_a_collections_call_naming_a_record_twice_is_kept_and_writes_in_order(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    second_owner = "005000000000002AAA"
    entries = [{"attributes": {"type": "Lead"}, "id": LEAD, "OwnerId": owner} for owner in (OWNER, second_owner)]

    answer = client.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": entries})

    assert [item["success"] for item in answer] == [True, True]
    assert fake.repeated_ids == [[LEAD, LEAD]]
    assert fake.owners == {LEAD: second_owner} and fake.updates == {LEAD: 2}


def test_the_writer_sends_two_changes_of_one_record_as_one_entry_and_answers_both(
        org: tuple[FakeOrg, Salesforce]) -> None:
    """Salesforce documents no answer for a record listed twice in one call: the writer never lists one twice."""
    fake, client = org
    changes = [OwnerChange("r1", "Lead", LEAD, OWNER), OwnerChange("r2", "Lead", LEAD, OWNER, owner_field="SDR__c")]

    results = SalesforceOwnerWriter(client).write(changes)

    assert [(result.routing_id, result.status) for result in results] == [("r1", "sent"), ("r2", "sent")]
    assert fake.repeated_ids == [] and fake.updates == {LEAD: 1}
    assert fake.owners == {LEAD: OWNER} and fake.field_values[LEAD] == {"SDR__c": OWNER}


# Salesforce: Event upserts and deletes --------------------------------------------------------------------------

def test_an_event_upsert_whose_connection_drops_was_created_and_its_retry_updates_it(
    org: tuple[FakeOrg, Salesforce],
) -> None:
    fake, client = org
    events = SalesforceEventWriter(client)
    fake.next_outcomes(APPLIED_THEN_DROPPED)

    with pytest.raises(TransientError, match=UNREACHABLE):
        events.upsert_event("booking-1", EVENT_FIELDS)
    created = fake.events.records["booking-1"]["Id"]

    assert events.upsert_event("booking-1", EVENT_FIELDS) == created
    assert list(fake.events.records) == ["booking-1"]


def test_an_event_delete_answered_5xx_was_deleted_and_its_retry_is_fine(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    events = SalesforceEventWriter(client)
    events.upsert_event("booking-1", EVENT_FIELDS)
    fake.next_outcomes(APPLIED_THEN_5XX)

    with pytest.raises(TransientError, match="answered 50"):
        events.delete_event("booking-1")
    assert fake.events.records == {} and fake.events.deleted == ["booking-1"]

    events.delete_event("booking-1")


# Salesforce: Bulk API 2.0 ingest ---------------------------------------------------------------------------------

def test_an_ingest_job_whose_upload_complete_is_answered_5xx_still_wrote_the_owners(
    org: tuple[FakeOrg, Salesforce],
) -> None:
    fake, client = org
    fake.next_outcomes("ok", "ok", APPLIED_THEN_5XX)  # job created, data uploaded, UploadComplete answered 5xx
    writer = BulkOwnerWriter(BulkClient(client, poll_ms=1, sleep=lambda _: None))

    [result] = writer.write([OwnerChange("r1", "Lead", LEAD, OWNER)])

    assert (result.ok, result.status) == (False, "retry") and "PATCH ingest/" in str(result.error)
    assert fake.owners == {LEAD: OWNER}
    assert [job["state"] for job in fake.bulk.ingest_jobs()] == ["UploadComplete"]


# Salesforce: random draws ---------------------------------------------------------------------------------------

def test_with_an_error_share_writes_draw_every_kind_of_fault(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.error_share, fake.slow_answer_s = 1.0, (0.0, 0.01)

    statuses = {_write_owner(client, f"00Q{n:012d}AAA")[1] for n in range(40)}

    assert {APPLIED_THEN_5XX, APPLIED_THEN_DROPPED, SLOW} <= set(fake.injected)
    assert set(RANDOM_FAULTS) & set(fake.injected)
    assert statuses <= {"sent", "retry"} and len(_collection_calls(fake)) == 40


def test_with_an_error_share_reads_are_only_refused_or_slow(org: tuple[FakeOrg, Salesforce]) -> None:
    fake, client = org
    fake.error_share, fake.slow_answer_s = 1.0, (0.0, 0.01)

    for _ in range(30):
        try:
            client.query_all("SELECT Id, OwnerId FROM Lead")
        except Exception:  # noqa: BLE001 - a refusal, as simple-salesforce raises it
            pass

    assert SLOW in fake.injected and set(fake.injected) <= {*RANDOM_FAULTS, SLOW}


def test_the_same_seed_draws_the_same_faults() -> None:
    first, second = FakeOrg(error_share=0.5), FakeOrg(error_share=0.5)

    draws = [(first.draw_fault(write=n % 3 > 0), second.draw_fault(write=n % 3 > 0)) for n in range(200)]

    assert all(a == b for a, b in draws)
    assert {fault.kind for fault, _ in draws if fault} == set(WRITE_FAULTS)
    assert {fault.kind for n, (fault, _) in enumerate(draws) if fault and n % 3 == 0} == set(READ_FAULTS)


# Google Calendar: inserts -----------------------------------------------------------------------------------------

def test_a_refused_insert_is_transient_and_creates_nothing(fake: FakeGoogleCalendar) -> None:
    fake.next_outcomes("refused")

    with pytest.raises(TransientError, match="answered 500"):
        _calendar(fake).create_event(_event())

    assert fake.live_events(HOST) == []


def test_an_insert_answered_5xx_was_created_and_its_retry_finds_it(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    fake.next_outcomes(APPLIED_THEN_5XX)

    with pytest.raises(TransientError, match="answered 50"):
        calendar.create_event(_event())
    assert len(fake.live_events(HOST)) == 1

    assert calendar.create_event(_event()).event_id == calendar_event_id("booking-1")
    assert len(fake.live_events(HOST)) == 1 and calendar.calls == {"insert": 2, "get": 1}


def test_an_insert_whose_connection_drops_is_resent_by_httplib2_and_found_by_its_409(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    fake.next_outcomes(APPLIED_THEN_DROPPED)

    created = calendar.create_event(_event())

    inserts = [request for request in fake.requests if request["method"] == "POST" and "/events" in request["path"]]
    assert len(inserts) == 2  # the client library sent the insert again on its own
    assert created.event_id == calendar_event_id("booking-1") and len(fake.live_events(HOST)) == 1


def test_an_insert_whose_connection_drops_twice_is_unreachable_but_created(fake: FakeGoogleCalendar) -> None:
    fake.next_outcomes(APPLIED_THEN_DROPPED, APPLIED_THEN_DROPPED)

    with pytest.raises(TransientError, match="could not be reached"):
        _calendar(fake).create_event(_event())

    assert len(fake.live_events(HOST)) == 1


def test_a_slow_insert_within_the_timeout_succeeds_late(fake: FakeGoogleCalendar) -> None:
    fake.slow_answer_s = (0.5, 0.5)
    fake.next_outcomes(SLOW)

    began = time.monotonic()
    _calendar(fake).create_event(_event())

    assert time.monotonic() - began >= 0.5 and len(fake.live_events(HOST)) == 1


def test_a_slow_insert_past_the_timeout_is_unreachable_but_created(fake: FakeGoogleCalendar) -> None:
    fake.slow_answer_s = (3.0, 3.0)
    calendar = _calendar(fake, timeout_ms=1_000)
    calendar.busy([HOST], START, START + timedelta(hours=1))  # the token exchanges happen before the timed call
    calendar.create_event(_event("warm-up"))
    fake.next_outcomes(SLOW)

    with pytest.raises(TransientError, match="could not be reached"):
        calendar.create_event(_event())

    assert calendar_event_id("booking-1") in {event["id"] for event in fake.live_events(HOST)}


# Google Calendar: patch, delete, move ------------------------------------------------------------------------------

def test_a_patch_answered_5xx_was_applied(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    calendar.create_event(_event())
    moved = CalendarEvent(calendar_event_id("booking-1"), HOST, "Demo (moved)", "", START + timedelta(hours=1),
                          START + timedelta(hours=1, minutes=30), ("ada@prospect.io",), False)
    fake.next_outcomes(APPLIED_THEN_5XX)  # the GET before the patch is a read: the patch takes the outcome

    with pytest.raises(TransientError, match="answered 50"):
        calendar.update_event(moved)

    [event] = fake.live_events(HOST)
    assert event["summary"] == "Demo (moved)"


def test_a_delete_answered_5xx_cancelled_the_event_and_its_retry_is_answered_410(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    calendar.create_event(_event())
    fake.next_outcomes(APPLIED_THEN_5XX)

    with pytest.raises(TransientError, match="answered 50"):
        calendar.cancel_event(HOST, calendar_event_id("booking-1"))
    assert fake.live_events(HOST) == []

    with pytest.raises(HttpError) as gone:
        _google_events(fake).delete(calendarId=HOST, eventId=calendar_event_id("booking-1")).execute(num_retries=0)
    assert gone.value.resp.status == 410
    calendar.cancel_event(HOST, calendar_event_id("booking-1"))  # the adapter takes 410 as done


def test_an_insert_sent_again_with_the_same_id_is_answered_409(fake: FakeGoogleCalendar) -> None:
    events = _google_events(fake)
    body = {"id": calendar_event_id("booking-1"), "start": {"dateTime": "2026-11-24T15:00:00Z"},
            "end": {"dateTime": "2026-11-24T15:30:00Z"}}
    events.insert(calendarId=HOST, body=body).execute(num_retries=0)

    with pytest.raises(HttpError) as taken:
        events.insert(calendarId=HOST, body=body).execute(num_retries=0)

    assert taken.value.resp.status == 409 and len(fake.live_events(HOST)) == 1


def test_a_move_whose_connection_drops_is_resent_and_answered_404_though_it_moved(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    calendar.create_event(_event())
    fake.next_outcomes(APPLIED_THEN_DROPPED)

    moved = calendar.transfer_event(HOST, calendar_event_id("booking-1"), NEW_HOST)

    assert moved is False  # httplib2 sent the move again; the event had left HOST's calendar: 404, "gone"
    assert fake.live_events(HOST) == [] and len(fake.live_events(NEW_HOST)) == 1


# Google Calendar: random draws -----------------------------------------------------------------------------------

def test_with_an_error_share_calendar_calls_draw_every_kind_counted_by_kind(fake: FakeGoogleCalendar) -> None:
    calendar = _calendar(fake)
    fake.error_share, fake.slow_answer_s = 1.0, (0.0, 0.01)

    for n in range(40):
        try:
            calendar.create_event(_event(f"booking-{n}"))
        except TransientError:
            pass

    assert {APPLIED_THEN_5XX, APPLIED_THEN_DROPPED, SLOW} <= set(fake.injected)
    assert {"500", "502", "503"} & set(fake.injected)
    assert set(fake.injected) <= {*WRITE_FAULTS, "500", "502", "503"} - {"refused"}
