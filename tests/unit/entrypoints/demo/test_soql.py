"""The fake org answers SOQL queries in Salesforce's REST format, through the real simple-salesforce client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce


def account(number: int, stamp: str, **fields: object) -> dict[str, object]:
    return {"Id": f"001{number:012d}AAA", "Name": f"Account {number}", "SystemModstamp": stamp, **fields}


@pytest.fixture
def fake() -> Iterator[tuple[FakeOrg, Salesforce]]:
    with fake_salesforce() as (org, client):
        org.records["Account"] = [
            account(1, "2026-11-20T09:00:02.000+0000", NumberOfEmployees=50,
                    Owner={"attributes": {"type": "User"}, "Id": "005000000000001AAA", "IsActive": False}),
            account(2, "2026-11-20T09:00:01.000+0000", NumberOfEmployees=None),
            account(3, "2026-11-20T09:00:01.000+0000", NumberOfEmployees=900),
            account(4, "2026-11-20T09:00:03.000+0000", IsDeleted=True),
        ]
        yield org, client


def test_pages_follow_next_records_url_and_each_record_has_attributes(fake: tuple[FakeOrg, Salesforce]) -> None:
    org, client = fake
    org.page_size = 2
    first = client.query("SELECT Id, Name FROM Account ORDER BY SystemModstamp, Id")
    second = client.query_more(first["nextRecordsUrl"], identifier_is_url=True)

    assert (first["totalSize"], first["done"], second["done"]) == (3, False, True)
    assert first["nextRecordsUrl"].startswith("/services/data/v61.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2")
    assert "nextRecordsUrl" not in second
    assert [r["Id"][3:15] for r in first["records"] + second["records"]] == ["000000000002", "000000000003",
                                                                             "000000000001"]
    assert first["records"][0] == {
        "attributes": {"type": "Account", "url": "/services/data/v61.0/sobjects/Account/001000000000002AAA"},
        "Id": "001000000000002AAA", "Name": "Account 2",
    }
    assert [call["method"] for call in org.calls] == ["GET", "GET"]
    assert org.calls[0]["soql"] == "SELECT Id, Name FROM Account ORDER BY SystemModstamp, Id"


def test_query_all_includes_deleted_records_and_query_does_not(fake: tuple[FakeOrg, Salesforce]) -> None:
    _, client = fake
    soql = "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"
    assert client.query(soql)["records"] == []
    assert [r["Id"] for r in client.query(soql, include_deleted=True)["records"]] == ["001000000000004AAA"]


def test_where_with_or_and_parentheses_in_lists_and_datetime_literals(fake: tuple[FakeOrg, Salesforce]) -> None:
    _, client = fake
    after_equal = client.query(
        "select Id from account where SystemModstamp > 2026-11-20T09:00:01Z "
        "or (SystemModstamp = 2026-11-20T09:00:01Z and Id > '001000000000002AAA') order by SystemModstamp, Id"
    )
    listed = client.query("SELECT Id FROM Account WHERE Id IN ('001000000000001AAA', '001000000000003AAA') "
                          "AND NOT Name LIKE '%3'")
    assert [r["Id"] for r in after_equal["records"]] == ["001000000000003AAA", "001000000000001AAA"]
    assert [r["Id"] for r in listed["records"]] == ["001000000000001AAA"]


def test_order_by_desc_puts_nulls_last_and_limit_cuts(fake: tuple[FakeOrg, Salesforce]) -> None:
    _, client = fake
    found = client.query("SELECT Id, NumberOfEmployees FROM Account ORDER BY NumberOfEmployees DESC LIMIT 3")
    assert [r["NumberOfEmployees"] for r in found["records"]] == [900, 50, None]


def test_relationship_fields_come_back_as_nested_objects(fake: tuple[FakeOrg, Salesforce]) -> None:
    _, client = fake
    found = client.query("SELECT Id, Owner.IsActive FROM Account WHERE Id = '001000000000001AAA'")
    assert found["records"][0]["Owner"]["IsActive"] is False
    assert found["records"][0]["Owner"]["attributes"]["type"] == "User"


def test_malformed_queries_unknown_objects_and_injected_faults_are_errors(fake: tuple[FakeOrg, Salesforce]) -> None:
    org, client = fake
    with pytest.raises(SalesforceMalformedRequest, match="MALFORMED_QUERY"):
        client.query("SELECT FROM Account")
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_TYPE"):
        client.query("SELECT Id FROM Widget__c")
    org.fail_next_calls(503)
    with pytest.raises(SalesforceError) as failed:
        client.query("SELECT Id FROM Account")
    assert failed.value.status == 503
    assert len(org.calls) == 3
