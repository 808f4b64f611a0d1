"""Salesforce outbound messages: safe parsing, org allow-list, Ack after enqueue, redeliveries routed once."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from entrypoints.http.app import create_app
from tests.support.configs import team_config
from tests.support.outbound import ORG, SESSION, TOKEN, URL, XML, envelope, notification
from tests.support.pipeline import Pipeline


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    current = pipeline.app
    settings = current.settings.model_copy(update={
        "outbound_token": TOKEN, "salesforce_org_ids": ORG, "salesforce_user_id": "005000000000099AAA",
        "max_request_bytes": 200_000,
    })
    current.settings, current.ports = settings, current.ports
    pipeline.apply(team_config(members=2))
    yield TestClient(create_app(pipeline.app))


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

    assert pipeline.store.decisions.count_assignments() == 2
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 2


def test_change_by_the_integration_user_is_not_routed(client: TestClient, pipeline: Pipeline) -> None:
    client.post(URL, content=envelope(notification(1, modified_by="005000000000099")), headers=XML)
    pipeline.drain()
    [log] = pipeline.sink.published
    assert log.outcome.value == "not_routed"


UPDATES_WITHOUT_CHANGE_LIST_ROUTE = """teams:
  - name: Inbound
    members:
      - {id: "005000000000001AAA", name: "Rep 1"}
      - {id: "005000000000002AAA", name: "Rep 2"}
graphs:
  Lead:
    nodes:
      start: {kind: trigger, on_create: true, when_changes_unknown: true, next: to_inbound}
      to_inbound: {kind: assign_team, team: Inbound}
"""


def later_update(number: int, owner: str) -> str:
    """Notification ``number`` about lead 1, edited by a person after Baton's write."""
    return notification(number, record=1, owner=owner, modified=f"2026-11-20T10:00:{number:02d}.000Z",
                        stamp=f"2026-11-20T10:00:{number:02d}.000Z")


def test_an_update_whose_owner_is_batons_latest_decision_is_not_routed_again(
    client: TestClient, pipeline: Pipeline
) -> None:
    """Outbound messages carry no changeOrigin: the owner equal to Baton's decision is the second loop guard."""
    pipeline.apply(UPDATES_WITHOUT_CHANGE_LIST_ROUTE)
    client.post(URL, content=envelope(notification(1)), headers=XML)
    pipeline.drain()
    [first] = pipeline.sink.published
    assert first.outcome.value == "assigned"

    client.post(URL, content=envelope(later_update(2, owner=first.owner_id)), headers=XML)  # type: ignore[arg-type]
    pipeline.drain()
    echo = pipeline.sink.published[-1]
    assert echo.outcome.value == "not_routed"
    assert "already is Baton's latest decision" in echo.reasons[-1]
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1
    assert pipeline.store.outbox.summary() == {("sent", 1): 1}  # one owner write, not two

    client.post(URL, content=envelope(later_update(3, owner="005000000000077AAA")), headers=XML)
    pipeline.drain()
    assert pipeline.sink.published[-1].outcome.value == "assigned"  # an owner Baton did not decide: routed


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
        (b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>', 400, "unsafe XML"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>', 400,
         "unsafe XML"),
        (b"", 400, "malformed XML"),
        (b"\xff\xfe<\x00x\x00", 400, "malformed XML"),
    ],
    ids=["malformed", "wrong-org", "xxe", "billion-laughs", "101-notifications", "not-soap", "external-dtd",
         "parameter-entity", "empty", "wrong-encoding"],
)
def test_bad_messages_are_rejected_with_a_clear_fault_and_nothing_enqueued(
    client: TestClient, pipeline: Pipeline, body: bytes, status: int, says: str
) -> None:
    response = client.post(URL, content=body, headers=XML)
    pipeline.drain()

    assert response.status_code == status
    assert says in response.text
    assert pipeline.store.decisions.count_assignments() == 0


def test_wrong_token_content_type_and_size_are_refused(client: TestClient, pipeline: Pipeline) -> None:
    body = envelope(notification(1))
    assert client.post("/salesforce/outbound/guess", content=body, headers=XML).status_code == 404
    assert client.post(URL, content=body, headers={"content-type": "application/json"}).status_code == 415
    assert client.post(URL, content=b"<x>" + b" " * 200_001 + b"</x>", headers=XML).status_code == 413
    pipeline.drain()
    assert pipeline.store.decisions.count_assignments() == 0


def test_a_hundred_notifications_in_one_message_are_all_routed(client: TestClient, pipeline: Pipeline) -> None:
    response = client.post(URL, content=envelope("\n".join(notification(n) for n in range(1, 101))), headers=XML)
    pipeline.drain()

    assert response.status_code == 200 and "<Ack>true</Ack>" in response.text
    assert pipeline.store.decisions.count_assignments() == 100


def test_a_streamed_body_over_the_limit_is_refused_before_it_is_all_read(client: TestClient, pipeline: Pipeline) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:  # chunked transfer encoding: no Content-Length to refuse up front
        for number in range(50):
            sent.append(number)
            yield b"<x>" + b" " * 10_000 + b"</x>"

    response = client.post(URL, content=chunks(), headers=XML)
    declared = client.post(URL, content=b"<x/>", headers={**XML, "content-length": "999999999"})

    assert response.status_code == 413 and "over the 200000-byte limit" in response.text
    assert declared.status_code == 413 and "body of 999999999 bytes" in declared.text
    pipeline.drain()
    assert pipeline.store.decisions.count_assignments() == 0


def test_soap_12_content_type_is_taken_and_a_missing_one_refused(client: TestClient, pipeline: Pipeline) -> None:
    body = envelope(notification(1))
    assert client.post(URL, content=body, headers={"content-type": "application/soap+xml"}).status_code == 200
    missing = client.post(URL, content=body, headers={"content-type": ""})
    assert missing.status_code == 415 and "got no content type" in missing.text


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
