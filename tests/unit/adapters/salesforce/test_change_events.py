"""Change events and platform events to record events, and the relay endpoint POST /salesforce/events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.salesforce.change_events import (
    OVERFLOW_LOOKBACK,
    entity_for_channel,
    flat_field_name,
    parse_delivery,
    parse_posted,
    without_own_writes,
)
from entrypoints.http.app import create_app
from kernel.errors import InputError
from messages import ChangeType, Source, routing_id_for
from tests.support import cdc_samples as cdc
from tests.support.configs import team_config
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.pipeline import Pipeline

RECEIVED = datetime(2025, 11, 20, 9, 0, 1, tzinfo=UTC)
TOKEN = "relay-bearer-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def data_of(payload: dict, replay_id: int = 12) -> dict:
    return cdc.message(cdc.LEAD_CHANNEL, payload, replay_id)["data"]


# parsing -------------------------------------------------------------------------------------
def test_a_merged_create_becomes_one_event_per_record_keyed_by_transaction_sequence_and_record() -> None:
    ids = [cdc.lead_id(1), cdc.lead_id(2)]
    intake = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.lead_created(ids, tx="tx-1")), RECEIVED)

    assert [e.source_event_id for e in intake.events] == [f"tx-1:1:{ids[0]}", f"tx-1:1:{ids[1]}"]
    first = intake.events[0]
    assert first.routing_id == routing_id_for("change_event", f"tx-1:1:{ids[0]}")
    assert (first.object_type, first.change_type, first.source) == ("Lead", ChangeType.CREATE, Source.CHANGE_EVENT)
    assert first.commit_timestamp == datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    assert first.changed_by == cdc.REP and first.changed_fields is None


def test_compound_name_and_address_are_flattened_into_object_fields() -> None:
    [event] = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.lead_created([cdc.lead_id(1)])), RECEIVED).events

    assert event.fields["FirstName"] == "Ada" and event.fields["LastName"] == "Lovelace"
    assert event.fields["City"] == "London" and event.fields["CountryCode"] == "GB"
    assert "Name" not in event.fields and "Address" not in event.fields
    assert flat_field_name("BillingAddress", "Street") == "BillingStreet"
    assert flat_field_name("Location__c", "Latitude") == "Location__Latitude__s"


def test_an_update_carries_its_changed_fields_by_object_field_name() -> None:
    [event] = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.lead_updated(cdc.lead_id(3))), RECEIVED).events

    assert event.change_type is ChangeType.UPDATE
    assert event.changed_fields == ["LastModifiedDate", "City", "OwnerId"]
    assert event.fields == {"LastModifiedDate": "2025-11-20T10:15:42.000Z", "City": "Cambridge",
                            "OwnerId": "00G000000000002AAA"}


def test_baton_own_change_is_ignored_before_it_becomes_an_event() -> None:
    payload = cdc.lead_created([cdc.lead_id(1)], origin=cdc.BATON_ORIGIN)
    intake = parse_delivery(cdc.LEAD_CHANNEL, data_of(payload), RECEIVED)

    assert intake.events == [] and intake.rereads == []
    assert [i.record_ids for i in intake.ignored] == [(cdc.lead_id(1),)]
    assert "client=baton" in intake.ignored[0].reason


def test_an_owner_update_by_batons_user_without_its_origin_is_ignored_and_other_changes_kept() -> None:
    baton_user = "005000000000099AAA"

    def by_baton(record: int, changed: list[str]) -> dict:
        payload = cdc.lead_updated(cdc.lead_id(record), tx=f"tx-{record}", origin="")
        header = {**payload["ChangeEventHeader"], "commitUser": baton_user, "changedFields": changed}
        return data_of({**payload, "ChangeEventHeader": header})

    intake = parse_delivery(cdc.LEAD_CHANNEL, by_baton(1, ["LastModifiedDate", "OwnerId"]), RECEIVED)
    intake.merge(parse_delivery(cdc.LEAD_CHANNEL, by_baton(2, ["LastModifiedDate", "City", "OwnerId"]), RECEIVED))
    assert len(intake.events) == 2  # parsing alone does not know Baton's user

    kept = without_own_writes(intake, baton_user)

    assert [event.record_id for event in kept.events] == [cdc.lead_id(2)]
    [ignored] = kept.ignored
    assert (ignored.record_ids, ignored.event_key) == ((cdc.lead_id(1),), f"tx-1:1:{cdc.lead_id(1)}")
    assert "Baton's integration user" in ignored.reason and "LastModifiedDate, OwnerId" in ignored.reason
    assert without_own_writes(intake, None) is intake


def test_an_update_by_batons_user_of_the_owner_and_the_mapped_routing_facts_is_ignored() -> None:
    baton_user = "005000000000099AAA"
    payload = cdc.lead_updated(cdc.lead_id(1), tx="tx-1", origin="")
    header = {**payload["ChangeEventHeader"], "commitUser": baton_user,
              "changedFields": ["LastModifiedDate", "OwnerId", "Baton_Team__c", "Baton_Assigned_At__c"]}
    intake = parse_delivery(cdc.LEAD_CHANNEL, data_of({**payload, "ChangeEventHeader": header}), RECEIVED)

    assert [event.record_id for event in without_own_writes(intake, baton_user).events] == [cdc.lead_id(1)]
    kept = without_own_writes(intake, baton_user, {"Lead": {"Baton_Team__c", "Baton_Assigned_At__c"}})
    assert kept.events == [] and "Baton_Team__c" in kept.ignored[0].reason


def test_gap_events_ask_to_re_read_their_records_and_gap_delete_needs_no_read() -> None:
    ids = [cdc.lead_id(4), cdc.lead_id(5)]
    update = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.gap_event("GAP_UPDATE", ids, tx="tx-g")), RECEIVED)
    delete = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.gap_event("GAP_DELETE", ids)), RECEIVED)

    [reread] = update.rereads
    assert (reread.object_type, reread.record_ids, reread.change_type, reread.event_key) == (
        "Lead", tuple(ids), ChangeType.UPDATE, "tx-g:1")
    assert update.events == [] and delete.rereads == []
    assert [(e.change_type, e.fields) for e in delete.events] == [(ChangeType.DELETE, {})] * 2


def test_an_overflow_event_asks_for_the_entity_modified_since_its_commit_time() -> None:
    intake = parse_delivery(cdc.LEAD_CHANNEL, data_of(cdc.gap_event("GAP_OVERFLOW", [])), RECEIVED)

    [reread] = intake.rereads
    assert reread.record_ids == ()
    assert reread.modified_since == datetime(2025, 11, 20, 9, 0, tzinfo=UTC) - OVERFLOW_LOOKBACK


def test_a_platform_event_names_a_record_to_read_and_route_again() -> None:
    data = cdc.message(cdc.BOOKING_CHANNEL, cdc.booking_request("Lead", cdc.lead_id(7)), 40,
                       EventUuid="5f1c0a52-3c56-4b7e-9c42-2d2f6a9b8e01")["data"]
    [reread] = parse_delivery(cdc.BOOKING_CHANNEL, data, RECEIVED).rereads

    assert (reread.object_type, reread.record_ids, reread.source) == ("Lead", (cdc.lead_id(7),), Source.PLATFORM_EVENT)
    assert reread.change_type is ChangeType.REASSIGN
    assert reread.event_key == "5f1c0a52-3c56-4b7e-9c42-2d2f6a9b8e01"


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda d: d["payload"]["ChangeEventHeader"].pop("transactionKey"), "ChangeEventHeader.transactionKey: Field required"),
        (lambda d: d["payload"]["ChangeEventHeader"].update(changeType="MERGE"), "ChangeEventHeader.changeType"),
        (lambda d: d["payload"]["ChangeEventHeader"].update(commitTimestamp="1763629200000"), "commitTimestamp"),
        (lambda d: d["payload"]["ChangeEventHeader"].update(recordIds=["not-an-id"]), "record_id"),
        (lambda d: d.update(replay=3), "data.replay: Extra inputs are not permitted"),
        (lambda d: d.pop("event"), "data.event: Field required"),
    ],
    ids=["no-transaction-key", "unknown-change-type", "string-timestamp", "bad-record-id", "unknown-key", "no-event"],
)
def test_malformed_change_events_are_refused_naming_what_is_wrong(mutate, says: str) -> None:
    data = data_of(cdc.lead_created([cdc.lead_id(1)]))
    mutate(data)
    with pytest.raises(InputError) as caught:
        parse_delivery(cdc.LEAD_CHANNEL, data, RECEIVED)
    assert says in str(caught.value)


def test_posted_bodies_take_one_event_or_a_list_of_messages_or_data_envelopes() -> None:
    created = cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12)
    assert len(parse_posted(created, RECEIVED, 10).events) == 1
    assert len(parse_posted([created, created["data"]], RECEIVED, 10).events) == 2
    with pytest.raises(InputError, match=r"events\[1\].data.payload: channel /event/Booking_Request__e carries"):
        parse_posted([created, {**created, "channel": cdc.BOOKING_CHANNEL}], RECEIVED, 10)
    with pytest.raises(InputError, match="at most 1 allowed"):
        parse_posted([created, created], RECEIVED, 1)


def test_channels_name_their_entity() -> None:
    assert entity_for_channel("/data/LeadChangeEvent") == "Lead"
    assert entity_for_channel("/data/Invoice__ChangeEvent") == "Invoice__c"
    assert entity_for_channel("/data/ChangeEvents") is None
    assert entity_for_channel("/event/Booking_Request__e") is None


# the relay endpoint ----------------------------------------------------------------------------
@pytest.fixture
def org() -> Iterator[FakeStreamingOrg]:
    with fake_streaming_org() as fake:
        yield fake


@pytest.fixture
def client(pipeline: Pipeline, org: FakeStreamingOrg) -> Iterator[TestClient]:
    current = pipeline.app
    settings = current.settings.model_copy(update={"events_token": TOKEN, "max_request_bytes": 100_000})
    current.settings, current.ports = settings, current.ports
    pipeline.apply(team_config(members=2))
    yield TestClient(create_app(pipeline.app, salesforce_login=org.client))


def post(client: TestClient, body: object, headers: dict[str, str] = AUTH):
    return client.post("/salesforce/events", content=json.dumps(body), headers=headers)


def test_a_valid_change_event_is_accepted_with_202_and_routed(client: TestClient, pipeline: Pipeline) -> None:
    ids = [cdc.lead_id(1), cdc.lead_id(2)]
    response = post(client, cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created(ids, tx="tx-http"), 12))
    pipeline.drain()

    assert (response.status_code, response.json()) == (202, {"accepted": 2, "ignored": 0})
    logs = pipeline.store.decisions.assignment_logs(routing_id_for("change_event", f"tx-http:1:{i}") for i in ids)
    assert sorted(log["record_id"] for log in logs.values()) == ids
    assert {log["source"] for log in logs.values()} == {"change_event"}


def test_baton_own_change_is_accepted_but_not_enqueued(client: TestClient, pipeline: Pipeline) -> None:
    with capture_logs() as logs:
        response = post(client, [cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)],
                                                                                 origin=cdc.BATON_ORIGIN), 12)])
    pipeline.drain()

    assert (response.status_code, response.json()) == (202, {"accepted": 0, "ignored": 1})
    assert pipeline.store.decisions.count_assignments() == 0
    assert any(entry["event"] == "change_event_ignored" for entry in logs)


def test_an_echo_of_the_routing_facts_baton_wrote_is_not_routed_again(client: TestClient, pipeline: Pipeline) -> None:
    """The applied config's writeback reaches the loop guard: an UPDATE by Baton's user of the owner and the
    mapped facts is ignored; the same change before the mapping was applied was routed."""
    baton_user = "005000000000099AAA"
    pipeline.app.settings = pipeline.app.settings.model_copy(update={"salesforce_user_id": baton_user})

    def echo(record: int) -> dict:
        payload = cdc.lead_updated(cdc.lead_id(record), tx=f"tx-echo-{record}", origin="")
        header = {**payload["ChangeEventHeader"], "commitUser": baton_user,
                  "changedFields": ["LastModifiedDate", "OwnerId", "Baton_Team__c", "Baton_Routing_Id__c"]}
        return cdc.message(cdc.LEAD_CHANNEL, {**payload, "ChangeEventHeader": header}, 12 + record)

    before = post(client, [echo(1)])
    pipeline.drain()
    pipeline.apply(team_config(members=2) + "writeback:\n  Lead: default\n")
    with capture_logs() as logs:
        after = post(client, [echo(2)])
    pipeline.drain()

    assert before.json()["accepted"] == 1 and after.json()["accepted"] == 0
    [ignored] = [entry for entry in logs if entry["event"] == "change_event_ignored"]
    assert ignored["record_ids"] == [cdc.lead_id(2)] and "Baton_Team__c" in ignored["reason"]
    assert pipeline.store.decisions.count_assignments() == 1


def test_gap_and_platform_events_are_routed_from_the_records_read_back(
    client: TestClient, pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    org.records["Lead"] = [cdc.rest_lead(n) for n in (4, 5, 7)]
    body = [cdc.message(cdc.LEAD_CHANNEL, cdc.gap_event("GAP_UPDATE", [cdc.lead_id(4), cdc.lead_id(5)], tx="tx-g"), 30),
            cdc.message(cdc.BOOKING_CHANNEL, cdc.booking_request("Lead", cdc.lead_id(7)), 31, EventUuid="uuid-7")]
    response = post(client, body)
    pipeline.drain()

    assert response.status_code == 202 and response.json()["accepted"] == 3
    assert any(f"WHERE Id IN ('{cdc.lead_id(4)}', '{cdc.lead_id(5)}')" in q for q in org.queries)
    keys = [("change_event", f"tx-g:1:{cdc.lead_id(4)}"), ("change_event", f"tx-g:1:{cdc.lead_id(5)}"),
            ("platform_event", f"uuid-7:{cdc.lead_id(7)}")]
    logs = pipeline.store.decisions.assignment_logs(routing_id_for(*key) for key in keys)
    assert len(logs) == 3


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Content-Type": "application/json"}, 401),
     ({"Authorization": "Bearer guessed", "Content-Type": "application/json"}, 401),
     ({"Authorization": f"Basic {TOKEN}", "Content-Type": "application/json"}, 401),
     ({"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}, 415)],
    ids=["no-token", "wrong-token", "not-bearer", "not-json"],
)
def test_wrong_token_or_content_type_is_refused(client: TestClient, pipeline: Pipeline, headers, status) -> None:
    response = post(client, cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12), headers)
    pipeline.drain()
    assert response.status_code == status
    assert pipeline.store.decisions.count_assignments() == 0


def test_malformed_json_is_a_400_naming_the_position(client: TestClient) -> None:
    response = client.post("/salesforce/events", content=b'[{"channel": "/data/LeadChangeEvent",', headers=AUTH)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON: ")


def test_unknown_envelope_fields_are_a_422_naming_the_field(client: TestClient, pipeline: Pipeline) -> None:
    created = cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12)
    created["data"]["priority"] = "high"
    response = post(client, [created])
    pipeline.drain()

    assert response.status_code == 422
    assert response.json()["detail"] == "events[0].data.priority: Extra inputs are not permitted"
    assert pipeline.store.decisions.count_assignments() == 0


def test_a_header_field_from_a_newer_api_version_does_not_cost_the_event(
    client: TestClient, pipeline: Pipeline
) -> None:
    created = cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12)
    created["data"]["payload"]["ChangeEventHeader"]["someFutureHeaderField"] = "x"
    response = post(client, [created])
    pipeline.drain()

    assert response.status_code == 202
    assert pipeline.store.decisions.count_assignments() == 1


def test_failed_enqueue_answers_503_so_the_relay_retries(client: TestClient, pipeline: Pipeline) -> None:
    with pipeline.refusing_enqueue() as refused:
        response = post(client, cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12))
    assert response.status_code == 503 and len(refused) == 1


def test_without_a_configured_token_nobody_gets_in(pipeline: Pipeline) -> None:
    current = pipeline.app
    current.settings, current.ports = current.settings.model_copy(update={"events_token": None}), current.ports
    response = post(TestClient(create_app(pipeline.app)), cdc.message(cdc.LEAD_CHANNEL, cdc.lead_created([cdc.lead_id(1)]), 12))
    assert response.status_code == 401


def test_commit_times_are_epoch_milliseconds() -> None:
    payload = cdc.lead_created([cdc.lead_id(1)], commit_ms=cdc.COMMIT_MS + 1_500)
    [event] = parse_delivery(cdc.LEAD_CHANNEL, data_of(payload), RECEIVED).events
    assert event.commit_timestamp == datetime(2025, 11, 20, 9, 0, tzinfo=UTC) + timedelta(milliseconds=1_500)
