"""Records' owners read for `baton reconcile` through simple-salesforce, over HTTPS to the fake org: SOQL in chunks of
ids, or one Bulk API 2.0 query job for a large set; nothing is written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from adapters.salesforce.owner_reads import OwnerQuery, SalesforceOwners
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.errors import InputError, TransientError

REP_A, REP_B = "005000000000001AAA", "005000000000002AAA"
OrgAndClient = tuple[FakeOrg, Salesforce]


def lead_id(number: int) -> str:
    return f"00Q{number:012d}AAA"


@pytest.fixture
def org_and_client() -> Iterator[OrgAndClient]:
    with fake_salesforce() as (org, client):
        org.records["Lead"] = [{"Id": lead_id(n), "OwnerId": REP_A if n % 2 else REP_B, "LastName": f"Lead {n}"}
                               for n in range(1, 451)]
        yield org, client


def soql_calls(org: FakeOrg) -> list[str]:
    return [call["soql"] for call in org.calls if call["method"] == "GET" and call.get("soql")]


def test_soql_reads_owners_200_ids_a_query_keyed_by_the_15_character_id(org_and_client: OrgAndClient) -> None:
    org, client = org_and_client
    wanted = [lead_id(n) for n in range(1, 451)] + [lead_id(900), lead_id(901)[:15]]  # two that are not there

    owners = SalesforceOwners(client, OwnerQuery.SOQL).owners("Lead", wanted)

    assert len(owners) == 450 and owners[lead_id(1)[:15]] == REP_A and owners[lead_id(2)[:15]] == REP_B
    queries = soql_calls(org)
    assert len(queries) == 3 and all(query.startswith("SELECT Id, OwnerId FROM Lead WHERE Id IN (") for query in queries)
    assert not org.bulk.requests and not org.updates


def test_a_bulk_query_reads_the_objects_owners_in_pages_and_keeps_the_wanted_ones(org_and_client: OrgAndClient) -> None:
    org, client = org_and_client
    org.bulk.page_size = 100

    owners = SalesforceOwners(client, OwnerQuery.BULK, bulk_poll_ms=1).owners(
        "Lead", [lead_id(3), lead_id(448)[:15], lead_id(999)])

    assert owners == {lead_id(3)[:15]: REP_A, lead_id(448)[:15]: REP_B}
    assert len(org.bulk.calls("POST", "query")) == 1 and len(org.bulk.calls("GET", "query")) >= 5  # job + 5 pages
    assert soql_calls(org) == [] and not org.bulk.ingest_jobs()


def test_auto_reads_by_soql_below_the_bulk_threshold_and_by_bulk_from_it(org_and_client: OrgAndClient) -> None:
    org, client = org_and_client
    reads = SalesforceOwners(client, OwnerQuery.AUTO, bulk_poll_ms=1, bulk_from=10)

    reads.owners("Lead", [lead_id(n) for n in range(1, 10)])
    reads.owners("Lead", [lead_id(n) for n in range(1, 11)])

    assert reads.queries == {OwnerQuery.SOQL: 1, OwnerQuery.BULK: 1}
    assert len(soql_calls(org)) == 1 and len(org.bulk.calls("POST", "query")) == 1


def test_salesforce_away_is_a_transient_error_and_a_bad_name_an_input_error(org_and_client: OrgAndClient) -> None:
    org, client = org_and_client
    org.fail_next_calls(503)

    with pytest.raises(TransientError):
        SalesforceOwners(client, OwnerQuery.SOQL).owners("Lead", [lead_id(1)])
    with pytest.raises(InputError, match="not an object API name"):
        SalesforceOwners(client).owners("Lead WHERE", [lead_id(1)])
    with pytest.raises(InputError, match="not Salesforce record ids"):
        SalesforceOwners(client).owners("Lead", ["1' OR Id != '"])
