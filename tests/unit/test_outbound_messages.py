"""Salesforce outbound messages: safe parsing, org allow-list, Ack after enqueue, redeliveries routed once."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.http.app import create_app
from baton import runtime
from tests.support.configs import team_config
from tests.unit.conftest import Pipeline

ORG = "00D000000000062EAA"
TOKEN = "s3cret-path-token"
SESSION = "00D000000000062!AQ0AQH0dMHZfz972Szmpkb58urFRkgeBGsxL_QJWwYMfAbUeeG7c1E6LYUfiDUkWe6H34r1AAwOR8B8fLEz6n04NPGRrq0FM"
URL = f"/salesforce/outbound/{TOKEN}"
XML = {"content-type": "text/xml; charset=utf-8"}


def envelope(notifications: str, org: str = ORG) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId>{SESSION}</SessionId>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/61.0/00D000000000062</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/61.0/00D000000000062</PartnerUrl>
{notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def notification(number: int, modified_by: str = "005000000000077AAA") -> str:
    return f"""   <Notification>
    <Id>04l{number:012d}AAA</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q{number:012d}AAA</sf:Id>
     <sf:Company>Company {number}</sf:Company>
     <sf:CreatedDate>2026-11-20T09:00:00.000Z</sf:CreatedDate>
     <sf:Email xsi:nil="true"/>
     <sf:LastModifiedById>{modified_by}</sf:LastModifiedById>
     <sf:LastModifiedDate>2026-11-20T09:00:00.000Z</sf:LastModifiedDate>
     <sf:OwnerId>00G000000000001AAA</sf:OwnerId>
     <sf:SystemModstamp>2026-11-20T09:00:{number % 60:02d}.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>"""


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    current = runtime.current()
    settings = current.settings.model_copy(update={
        "outbound_token": TOKEN, "salesforce_org_ids": ORG, "salesforce_user_id": "005000000000099AAA",
        "max_request_bytes": 200_000,
    })
    runtime.install(runtime.Runtime(settings, current.broker, current.ports))
    pipeline.apply(team_config(members=2))
    yield TestClient(create_app())


def test_notifications_are_acked_and_routed(client: TestClient, pipeline: Pipeline) -> None:
    response = client.post(URL, content=envelope("\n".join(notification(n) for n in range(1, 4))), headers=XML)
    pipeline.drain()

    assert response.status_code == 200
    assert "<Ack>true</Ack>" in response.text
    assert sorted(log.record_id for log in pipeline.sink.published) == [f"00Q{n:012d}AAA" for n in range(1, 4)]
    assert {log.source for log in pipeline.sink.published} == {"outbound_message"}


def test_same_notification_three_times_shuffled_routes_once(client: TestClient, pipeline: Pipeline) -> None:
    deliveries = [notification(n) for n in (1, 2)] * 3
    random.Random(7).shuffle(deliveries)
    for item in deliveries:
        assert client.post(URL, content=envelope(item), headers=XML).status_code == 200
    pipeline.drain()

    assert pipeline.store.count_assignments() == 2
    assert pipeline.store.team_state("Inbound")["turn"] == 2


def test_change_by_the_integration_user_is_not_routed(client: TestClient, pipeline: Pipeline) -> None:
    client.post(URL, content=envelope(notification(1, modified_by="005000000000099")), headers=XML)
    pipeline.drain()
    [log] = pipeline.sink.published
    assert log.outcome.value == "not_routed"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"<soapenv:Envelope><unclosed>", 400, "malformed XML"),
        (envelope(notification(1), org="00D000000000999AAA"), 403, "not allowed"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', 400, "unsafe XML"),
        (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
         b"<lolz>&lol2;</lolz>", 400, "unsafe XML"),
        (envelope("\n".join(notification(n) for n in range(1, 102))), 400, "101 notifications"),
        (b'<?xml version="1.0"?><notifications/>', 400, "expected a SOAP Envelope"),
    ],
    ids=["malformed", "wrong-org", "xxe", "billion-laughs", "101-notifications", "not-soap"],
)
def test_bad_messages_are_rejected_with_a_clear_fault_and_nothing_enqueued(
    client: TestClient, pipeline: Pipeline, body: bytes, status: int, says: str
) -> None:
    response = client.post(URL, content=body, headers=XML)
    pipeline.drain()

    assert response.status_code == status
    assert says in response.text
    assert pipeline.store.count_assignments() == 0


def test_wrong_token_content_type_and_size_are_refused(client: TestClient, pipeline: Pipeline) -> None:
    body = envelope(notification(1))
    assert client.post("/salesforce/outbound/guess", content=body, headers=XML).status_code == 404
    assert client.post(URL, content=body, headers={"content-type": "application/json"}).status_code == 415
    assert client.post(URL, content=b"<x>" + b" " * 200_001 + b"</x>", headers=XML).status_code == 413
    pipeline.drain()
    assert pipeline.store.count_assignments() == 0


def test_session_id_never_reaches_a_log(client: TestClient, pipeline: Pipeline) -> None:
    with capture_logs() as logs:
        client.post(URL, content=envelope(notification(1)), headers=XML)
        client.post(URL, content=envelope(notification(2), org="00D000000000999AAA"), headers=XML)
        pipeline.drain()
    assert logs
    assert SESSION not in repr(logs)
    assert all(SESSION not in repr(log.model_dump()) for log in pipeline.sink.published)


def test_failed_enqueue_answers_503_without_ack_so_salesforce_retries(client: TestClient, pipeline: Pipeline) -> None:
    with pipeline.refusing_enqueue():
        response = client.post(URL, content=envelope(notification(1)), headers=XML)

    assert response.status_code == 503
    assert "<Ack>" not in response.text
