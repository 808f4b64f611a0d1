"""A CDC UPDATE carries only its changed fields: the listener lays them over Baton's synced copy of the
record, or, with no copy, over the record read from Salesforce (one query for a delivery's records),
before routing. Fake Streaming API and REST over HTTPS, the real pipeline on the in-process broker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.salesforce.reference_records import SyncOptions
from messages import routing_id_for
from tests.support import cdc_samples as cdc
from tests.support.configs import team_config
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.pipeline import Pipeline
from tests.unit.entrypoints.test_listener import CHANNEL, listener, running, wait_for_position

TAGGED = team_config(members=2) + (
    "classification:\n  tag_rules:\n    - {when: {field: Company, op: is_not_empty}, tags: [has_company]}\n")
SYNCED_AT = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def org(pipeline: Pipeline) -> Iterator[FakeStreamingOrg]:
    pipeline.apply(TAGGED)
    with fake_streaming_org() as fake:
        fake.known_channels.add(CHANNEL)
        yield fake


def sync_lead(pipeline: Pipeline, number: int) -> None:
    fields = {"FirstName": "Ada", "LastName": f"Lovelace {number}", "Company": f"Synced {number}",
              "Email": f"ada{number}@example.org", "Status": "Open", "OwnerId": "00G000000000001AAA"}
    row = SyncOptions().row("Lead", cdc.lead_id(number), fields, SYNCED_AT, SYNCED_AT)
    with pipeline.store.reference_sync.writes() as tx:
        tx.upsert_synced("Lead", [row], newer_only=False)


def updated(record_ids: list[str], tx: str) -> dict[str, object]:
    """An UPDATE of several records in one event (the same change to each), carrying City only."""
    return {"Address": {"City": "Cambridge"},
            "ChangeEventHeader": cdc.header("UPDATE", record_ids, tx, changed=["Address.City"])}


def tags_of(pipeline: Pipeline, tx: str, record_ids: list[str]) -> dict[str, list[str]]:
    logs = pipeline.store.decisions.assignment_logs([routing_id_for("change_event", f"{tx}:1:{rid}") for rid in record_ids])
    return {log["record_id"]: log["tags"] for log in logs.values()}


def test_an_update_is_routed_on_the_synced_copy_or_the_record_read_in_one_query(
    pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    sync_lead(pipeline, 1)
    org.records["Lead"] = [cdc.rest_lead(2), cdc.rest_lead(3)]
    ids = [cdc.lead_id(n) for n in (1, 2, 3, 4)]  # 1 synced, 2 and 3 only in Salesforce, 4 nowhere
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        last = org.publish(CHANNEL, updated(ids, tx="tx-upd"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    reads = [query for query in org.queries if "WHERE Id IN" in query]
    assert reads == [reads[0]] and reads[0].endswith(f"WHERE Id IN ('{ids[1]}', '{ids[2]}', '{ids[3]}')")
    assert tags_of(pipeline, "tx-upd", ids) == {ids[0]: ["has_company"], ids[1]: ["has_company"],
                                                ids[2]: ["has_company"], ids[3]: []}
    usage = pipeline.store.administration.api_usage()
    assert usage is not None and usage.used == org.api_calls == 2  # describe Lead, then the one query


def test_an_update_of_synced_records_costs_no_api_call(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    sync_lead(pipeline, 5)
    with running(listener(pipeline, org)):
        org.wait_for(lambda: bool(org.subscriptions))
        last = org.publish(CHANNEL, updated([cdc.lead_id(5)], tx="tx-synced"))
        wait_for_position(pipeline, org, last)
    pipeline.drain()

    assert org.queries == [] and org.api_calls == 0
    assert tags_of(pipeline, "tx-synced", [cdc.lead_id(5)]) == {cdc.lead_id(5): ["has_company"]}
