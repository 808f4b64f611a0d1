"""Routing facts written back beside the owner (issue 21), through the real flusher and writer to the fake org
over HTTPS: the mapped fields travel in the owner's record entry of the same sObject Collections call, an
unmapped object gets only its owner, and an older decision's facts never reach the org after a newer one's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce

from adapters.salesforce.bulk import BulkClient, BulkOwnerWriter, owners_csv
from adapters.salesforce.writer import SalesforceOwnerWriter
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from messages import AssignmentLog, Source
from routing.writeback import DEFAULT_FIELDS
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

MAPPED = team_config(members=2, sla_minutes=30) + "writeback:\n  Lead: default\n"
CASES_ONLY = team_config(members=2) + "writeback:\n  Case:\n    team: Routing_Team__c\n"
ENTRY_KEYS = {"attributes", "id", "OwnerId"}


@pytest.fixture
def connected(pipeline: Pipeline) -> Iterator[tuple[FakeOrg, Salesforce]]:
    with fake_salesforce() as (fake, client):
        pipeline.use_writer(SalesforceOwnerWriter(client))
        yield fake, client


@pytest.fixture
def org(connected: tuple[FakeOrg, Salesforce]) -> FakeOrg:
    return connected[0]


def collection_calls(org: FakeOrg) -> list[dict[str, Any]]:
    return [call for call in org.calls if call["method"] == "PATCH"]


def entries(org: FakeOrg) -> list[dict[str, Any]]:
    return [entry for call in collection_calls(org) for entry in call["payload"]["records"]]


def logs_of(pipeline: Pipeline, routing_ids: list[str]) -> dict[str, AssignmentLog]:
    return {rid: AssignmentLog.model_validate(log)
            for rid, log in pipeline.store.decisions.assignment_logs(routing_ids).items()}


def salesforce_time(log_time: Any) -> str:
    return log_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_mapped_leads_owner_and_routing_facts_reach_the_org_in_one_collections_call(
        pipeline: Pipeline, org: FakeOrg) -> None:
    pipeline.apply(MAPPED)
    events = [lead_event(n) for n in range(1, 4)]
    pipeline.send(events, batch_size=3)
    pipeline.drain()

    assert len(collection_calls(org)) == 1
    logs = logs_of(pipeline, [event.routing_id for event in events])
    for entry in entries(org):
        log = next(log for log in logs.values() if log.record_id == entry["id"])
        assert entry["OwnerId"] == log.owner_id
        assert entry[DEFAULT_FIELDS["team"]] == "Inbound"
        assert entry[DEFAULT_FIELDS["method"]] == log.method
        assert entry[DEFAULT_FIELDS["routing_id"]] == log.routing_id
        assert entry[DEFAULT_FIELDS["assigned_at"]] == salesforce_time(log.decided_at)
        assert entry[DEFAULT_FIELDS["sla_due"]] == salesforce_time(log.decided_at + timedelta(minutes=30))
        assert entry[DEFAULT_FIELDS["sla_breached"]] is False
        assert entry[DEFAULT_FIELDS["territory"]] is None  # no territory: written null, no older value lingers
        assert entry[DEFAULT_FIELDS["reason"]]
        assert set(entry) == ENTRY_KEYS | set(DEFAULT_FIELDS.values())
        assert org.field_values[entry["id"]] == {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
    assert org.owners == {log.record_id: log.owner_id for log in logs.values()}


def test_an_object_the_config_does_not_map_gets_only_its_owner(pipeline: Pipeline, org: FakeOrg) -> None:
    pipeline.apply(CASES_ONLY)
    pipeline.send([lead_event(1), lead_event(2)], batch_size=2)
    pipeline.drain()

    assert len(collection_calls(org)) == 1
    assert [set(entry) for entry in entries(org)] == [ENTRY_KEYS, ENTRY_KEYS]
    assert org.field_values == {}


def test_a_superseded_older_decisions_facts_never_reach_the_org(pipeline: Pipeline, org: FakeOrg) -> None:
    """Two decisions of one record before the flusher runs: only the newer row is sent, facts and owner; an
    event older than the one decided last, arriving after it was written, writes nothing."""
    pipeline.apply(MAPPED)
    at = lead_event(1).commit_timestamp
    older = lead_event(1, event_id="older", at=at)
    newer = lead_event(1, event_id="newer", at=at + timedelta(minutes=1))
    pipeline.send([older])
    pipeline.route()
    pipeline.send([newer])
    pipeline.route()
    pipeline.flush()
    late = lead_event(1, event_id="late", at=at + timedelta(seconds=30))
    pipeline.send([late])
    pipeline.drain()

    record = older.record_id
    assert [entry[DEFAULT_FIELDS["routing_id"]] for entry in entries(org)] == [newer.routing_id]
    assert org.field_values[record][DEFAULT_FIELDS["routing_id"]] == newer.routing_id
    statuses = pipeline.store.outbox.statuses([older.routing_id, newer.routing_id, late.routing_id])
    assert statuses == {older.routing_id: "superseded", newer.routing_id: "sent"}


def test_a_field_the_org_does_not_have_is_refused_per_record_as_salesforce_refuses_it(
        pipeline: Pipeline, org: FakeOrg) -> None:
    pipeline.apply(MAPPED)
    org.known_fields["Lead"] = {"OwnerId", *(name for fact, name in DEFAULT_FIELDS.items() if fact != "tags")}
    pipeline.send([lead_event(1)])
    pipeline.drain()

    assert pipeline.store.outbox.summary() == {("rejected", 1): 1}
    assert org.owners == {} and org.field_values == {}


def test_a_bulk_ingest_csv_carries_each_objects_fact_columns_null_as_na() -> None:
    csv = owners_csv([("00Q1", "005A", {"Baton_Team__c": "Inbound", "Baton_Territory__c": None,
                                        "Baton_SLA_Breached__c": False}),
                      ("00Q2", "005B", None)])

    assert csv.splitlines() == ["Id,OwnerId,Baton_Team__c,Baton_Territory__c,Baton_SLA_Breached__c",
                                "00Q1,005A,Inbound,#N/A,false", "00Q2,005B,,,"]


def test_a_lost_answer_to_a_write_with_facts_is_written_again_not_taken_as_written_from_its_owner(
        pipeline: Pipeline, org: FakeOrg) -> None:
    """Reading the owner back cannot tell whether the facts were written: such a row is sent again (the same
    values, idempotent) instead of read back."""
    pipeline.apply(MAPPED)
    org.answers_to_drop = 1
    events = [lead_event(n) for n in range(1, 4)]
    pipeline.send(events, batch_size=3)
    pipeline.drain()

    assert [call["method"] for call in org.calls] == ["PATCH", "PATCH"]
    assert collection_calls(org)[0]["payload"] == collection_calls(org)[1]["payload"]
    assert pipeline.store.outbox.summary() == {("sent", 2): 3}
    assert {record: values[DEFAULT_FIELDS["routing_id"]] for record, values in org.field_values.items()} == {
        event.record_id: event.routing_id for event in events}


def test_a_batch_jobs_owner_and_facts_go_in_one_bulk_ingest_job(pipeline: Pipeline,
                                                                connected: tuple[FakeOrg, Salesforce]) -> None:
    org, client = connected
    pipeline.apply(MAPPED)
    job_events = [lead_event(n).model_copy(update={"source": Source.BATCH,
                                                   "source_event_id": f"job-1:{lead_event(n).record_id}"})
                  for n in (1, 2)]
    org.records["Lead"] = [{"Id": event.record_id} for event in job_events]
    pipeline.send(job_events)
    pipeline.route()
    rows = pipeline.store.outbox.due(utc_now(), "bulk")
    writer = BulkOwnerWriter(BulkClient(client, poll_ms=1, sleep=lambda _: None))

    results = writer.write([row.change for row in rows])

    assert {result.status for result in results} == {"sent"} and len(org.bulk.ingest_jobs()) == 1
    for row in rows:
        assert row.fields is not None and row.fields[DEFAULT_FIELDS["sla_due"]] is None  # a batch job opens no SLA
        assert org.field_values[row.record_id][DEFAULT_FIELDS["routing_id"]] == row.routing_id
        assert org.field_values[row.record_id][DEFAULT_FIELDS["sla_due"]] is None  # #N/A: set to null
        assert org.owners[row.record_id] == row.owner_id
