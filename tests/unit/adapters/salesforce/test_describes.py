"""Salesforce describes: the describe JSON as Baton keeps it, fetched from the fake org over HTTPS, and the record
reader taking the fields it reads back from the stored describe rather than describing per process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.salesforce.describes import fetch_describe, object_describe, routed_objects
from adapters.salesforce.rereads import SoqlRecordReader
from adapters.store import Store
from entrypoints.demo.fake_describes import FORMULA_FIELD, standard_describes
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.errors import PermanentError
from kernel.ports.describes import FieldDescribe, ObjectDescribe
from routing.config import load_config_text
from tests.support.configs import team_config

FETCHED = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
LEAD_ID = "00Q000000000001AAA"


def describe_calls(org: FakeOrg) -> list[str]:
    return [call["path"] for call in org.calls if call["path"].endswith("/describe")]


def test_a_describe_keeps_type_updateability_lookups_active_picklist_values_and_queryable_fields() -> None:
    body = standard_describes()["Lead"]
    status = next(item for item in body["fields"] if item["name"] == "Status")
    status["picklistValues"].append({"value": "Retired", "active": False})

    described = object_describe("Lead", body, FETCHED)

    assert described.fields["Status"].picklist_values == ("Open - Not Contacted", "Working - Contacted", "Closed")
    assert described.fields["Region__c"].restricted_picklist
    assert described.fields["Baton_Matched_Account__c"] == FieldDescribe(
        "Baton_Matched_Account__c", "reference", updateable=True, length=18, reference_to=("Account",))
    formula = described.fields[FORMULA_FIELD]
    assert formula.calculated and not formula.updateable
    assert "Address" in described.fields and "Address" not in described.queryable_fields  # compound field
    assert "Baton_Team__c" in described.queryable_fields and described.fetched_at == FETCHED


def test_an_answer_that_is_not_the_objects_describe_is_refused() -> None:
    with pytest.raises(PermanentError, match="describes Contact"):
        object_describe("Lead", standard_describes()["Contact"], FETCHED)
    with pytest.raises(PermanentError, match="no list of named fields"):
        object_describe("Lead", {"name": "Lead", "fields": [{"type": "string"}]}, FETCHED)


def test_the_routed_objects_are_the_standard_ones_and_the_stored_configs() -> None:
    config = load_config_text(team_config() + "writeback:\n  Widget__c:\n    team: Team__c\n  lead: default\n")
    assert routed_objects(None) == ["Lead", "Contact", "Account", "Opportunity", "Case"]
    assert routed_objects(config, ["Gadget__c"]) == ["Lead", "Contact", "Account", "Opportunity", "Case",
                                                     "Widget__c", "Gadget__c"]


def test_fetching_from_the_fake_org_is_one_describe_call_and_an_unknown_object_is_permanent() -> None:
    with fake_salesforce() as (org, client):
        described = fetch_describe(client, "Case", FETCHED)
        with pytest.raises(PermanentError, match="describe Widget__c"):
            fetch_describe(client, "Widget__c", FETCHED)
    assert described.object_type == "Case" and described.fields["Baton_SLA_Due__c"].type == "datetime"
    assert len(describe_calls(org)) == 2


def test_the_reader_reads_the_stored_fields_without_a_describe_call(store: Store) -> None:
    fields = ("Id", "LastName", "Company", "OwnerId", "SystemModstamp")
    store.describes.save(ObjectDescribe("Lead", {name: FieldDescribe(name, "string", True) for name in fields},
                                        FETCHED, fields))
    with fake_salesforce() as (org, client):
        org.records["Lead"] = [{"Id": LEAD_ID, "LastName": "Lovelace", "Company": "Acme", "OwnerId": None,
                                "SystemModstamp": "2026-12-06T09:00:00.000+0000"}]
        reader = SoqlRecordReader(client, store.describes)
        first = reader.by_ids("Lead", [LEAD_ID])
        reader.by_ids("Lead", [LEAD_ID])

    assert describe_calls(org) == []
    queries = [call["soql"] for call in org.calls if call.get("soql")]
    assert queries[0].startswith("SELECT Id, LastName, Company, OwnerId, SystemModstamp FROM Lead WHERE Id IN")
    assert first[0]["LastName"] == "Lovelace"


def test_without_a_stored_describe_the_reader_describes_once_live(store: Store) -> None:
    with fake_salesforce() as (org, client):
        org.records["Lead"] = [{"Id": LEAD_ID, "LastName": "Lovelace", "SystemModstamp": "2026-12-06T09:00:00.000+0000"}]
        reader = SoqlRecordReader(client, store.describes)
        fields = reader.fields("Lead")
        assert reader.fields("Lead") == fields

    assert len(describe_calls(org)) == 1
    assert "Baton_Team__c" in fields and "Address" not in fields
