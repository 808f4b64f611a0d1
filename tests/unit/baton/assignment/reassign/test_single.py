"""Reassigning one record on request (``POST /records/{object}/{id}/reassign``, ``baton reassign-record``): its
current state is read back from (a fake) Salesforce over HTTP, routed again as a REASSIGN through the graph, the
previous owner credited back and the reason kept in the assignment log and `baton why`; a repeated request
routes once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from baton.assignment.reassign.single import new_request
from baton.operations.why import record_trace
from entrypoints.http.app import create_app
from entrypoints.http.auth import BOOKINGS_WRITE, RECORDS_WRITE
from kernel.clock import utc_now
from kernel.errors import InputError
from tests.support import cdc_samples as cdc
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.pipeline import Pipeline

RECORD = cdc.lead_id(1)
REP_1, REP_2 = member_id(1), member_id(2)
REASON = "Rep 1 moved to the enterprise team"


@pytest.fixture
def org() -> Iterator[FakeStreamingOrg]:
    with fake_streaming_org() as fake:
        yield fake


@pytest.fixture
def client(pipeline: Pipeline, org: FakeStreamingOrg) -> TestClient:
    pipeline.apply(team_config(members=2))
    return TestClient(create_app(pipeline.app, salesforce_login=org.client))


def _auth(pipeline: Pipeline, *scopes: str) -> dict[str, str]:
    token, _ = pipeline.store.tokens.create("ops", scopes or [RECORDS_WRITE], utc_now())
    return {"Authorization": f"Bearer {token}"}


def _routed_to_rep_1(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    pipeline.send([lead_event(1)])
    pipeline.drain()
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}
    org.records["Lead"] = [cdc.rest_lead(1, OwnerId=REP_1)]


def test_a_reassigned_record_goes_to_another_member_with_credit_back_and_the_reason_in_why(
    client: TestClient, pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    _routed_to_rep_1(pipeline, org)
    auth = _auth(pipeline)
    body = {"reason": REASON, "request_id": "ticket-42"}

    response = client.post(f"/records/Lead/{RECORD}/reassign", json=body, headers=auth)
    pipeline.drain()
    again = client.post(f"/records/Lead/{RECORD}/reassign", json=body, headers=auth)
    pipeline.drain()

    assert response.status_code == 202 and again.status_code == 202
    assert response.json()["routing_id"] == again.json()["routing_id"]
    assert any(f"WHERE Id IN ('{RECORD}')" in query for query in org.queries)
    document = record_trace(RECORD, pipeline.store.operations.record_trace(RECORD))
    newest, first = document["decisions"]  # the repeated request routed nothing more
    assert (newest["owner_id"], newest["previous_owner_id"], first["owner_id"]) == (REP_2, REP_1, REP_1)
    reasons = newest["stages"]["assign"]["reasons"]
    assert reasons[0] == f"reassign requested: {REASON}"
    assert f"fairness: previous owner {REP_1} credited back (record reassigned)" in reasons


def test_the_endpoint_needs_the_records_write_scope(client: TestClient, pipeline: Pipeline,
                                                    org: FakeStreamingOrg) -> None:
    _routed_to_rep_1(pipeline, org)
    response = client.post(f"/records/Lead/{RECORD}/reassign", json={"reason": REASON},
                           headers=_auth(pipeline, BOOKINGS_WRITE))
    unauthenticated = client.post(f"/records/Lead/{RECORD}/reassign", json={"reason": REASON})
    pipeline.drain()

    assert (response.status_code, unauthenticated.status_code) == (403, 401)
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [(f"/records/Lead/{cdc.lead_id(9)}/reassign", {"reason": REASON}, 404, "not found in Salesforce"),
     (f"/records/Lead/{RECORD}/reassign", {"reason": "  "}, 422, "reason"),
     (f"/records/Lead/{RECORD}/reassign", {}, 422, "reason"),
     ("/records/Lead/not-an-id/reassign", {"reason": REASON}, 422, "record id"),
     (f"/records/Lead;DROP/{RECORD}/reassign", {"reason": REASON}, 422, "object")],
    ids=["unknown-record", "blank-reason", "no-reason", "bad-id", "bad-object"],
)
def test_bad_requests_are_refused_naming_what_is_wrong(client: TestClient, pipeline: Pipeline, org: FakeStreamingOrg,
                                                       path: str, body: dict[str, str], status: int, says: str) -> None:
    _routed_to_rep_1(pipeline, org)
    response = client.post(path, json=body, headers=_auth(pipeline))
    pipeline.drain()

    assert response.status_code == status
    assert says in str(response.json()["detail"])
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}


def test_a_request_without_an_id_gets_a_fresh_one_and_a_bad_id_is_refused() -> None:
    first, second = new_request("Lead", RECORD, REASON), new_request("Lead", RECORD, REASON)
    assert first.routing_id() != second.routing_id()
    assert new_request("Lead", RECORD, REASON, "t-1").routing_id() == new_request("Lead", RECORD, "x", "t-1").routing_id()
    with pytest.raises(InputError, match="request id"):
        new_request("Lead", RECORD, REASON, "has spaces")
