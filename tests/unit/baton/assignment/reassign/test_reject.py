"""A rep rejects a record Baton assigned them (``POST /v1/records/{object}/{id}/reject``, ``baton reject``): it is
routed again without them and never back to them in the same period, the reason is kept and shown by `baton why`,
the team's daily limit refuses one rejection too many (the record stays theirs) and the team decides whether a
rejected record still counts for the rejecter. The record's state is read from (a fake) Salesforce over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from baton.assignment.reassign.reject import field_rejections
from baton.operations.why import record_trace
from entrypoints.http.app import create_app
from entrypoints.http.auth import RECORDS_REJECT, RECORDS_WRITE
from kernel.clock import utc_now
from messages import ChangeType, RecordEvent, Source
from routing.config import load_config_text
from tests.support import cdc_samples as cdc
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.fake_cometd import FakeStreamingOrg, fake_streaming_org
from tests.support.pipeline import Pipeline

RECORD = cdc.lead_id(1)
REP_1, REP_2, REP_3 = member_id(1), member_id(2), member_id(3)
REASON = "not my territory"


@pytest.fixture
def org() -> Iterator[FakeStreamingOrg]:
    with fake_streaming_org() as fake:
        yield fake


def _client(pipeline: Pipeline, org: FakeStreamingOrg, members: int = 3, **options: object) -> TestClient:
    pipeline.apply(team_config(members=members, **options))
    return TestClient(create_app(pipeline.app, salesforce_login=org.client))


def _auth(pipeline: Pipeline, *scopes: str, user: str | None = None) -> dict[str, str]:
    token, _ = pipeline.store.tokens.create("rep", scopes or [RECORDS_REJECT], utc_now(), scheduler_user_id=user)
    return {"Authorization": f"Bearer {token}"}


def _route(pipeline: Pipeline, org: FakeStreamingOrg, index: int) -> str:
    """Routes lead ``index`` (round robin) and lets the fake org hold it with its new owner; returns the owner."""
    pipeline.send([lead_event(index)])
    pipeline.drain()
    owner = pipeline.store.decisions.latest_routed_log("Lead", cdc.lead_id(index))["owner_id"]  # type: ignore[index]
    org.records.setdefault("Lead", []).append(cdc.rest_lead(index, OwnerId=owner))
    return str(owner)


def _owner(pipeline: Pipeline, index: int = 1) -> str | None:
    log = pipeline.store.decisions.latest_routed_log("Lead", cdc.lead_id(index))
    return log["owner_id"] if log else None


def _reject(client: TestClient, auth: dict[str, str], member: str, index: int = 1, reason: str = REASON):
    return client.post(f"/v1/records/Lead/{cdc.lead_id(index)}/reject", json={"member_id": member, "reason": reason},
                       headers=auth)


def test_a_rejected_record_goes_to_another_member_never_back_to_the_rejecter_and_why_says_so(
    pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    client = _client(pipeline, org)
    assert _route(pipeline, org, 1) == REP_1

    response = _reject(client, _auth(pipeline), REP_1)
    pipeline.drain()
    assert response.status_code == 202, response.text
    first_new_owner = _owner(pipeline)
    org.records["Lead"] = [cdc.rest_lead(1, OwnerId=first_new_owner)]
    for attempt in range(3):  # routed again and again on request: never back to the rejecter this period
        reassigned = client.post(f"/records/Lead/{RECORD}/reassign", json={"reason": f"again {attempt}"},
                                 headers=_auth(pipeline, RECORDS_WRITE))
        pipeline.drain()
        assert reassigned.status_code == 202
        assert _owner(pipeline) != REP_1
        org.records["Lead"] = [cdc.rest_lead(1, OwnerId=_owner(pipeline))]

    assert first_new_owner in (REP_2, REP_3)
    document = record_trace(RECORD, pipeline.store.operations.record_trace(RECORD))
    rejected = document["decisions"][-2]  # the decision right after the first one
    assert rejected["stages"]["assign"]["reasons"][0] == f"rejected by the owner: {REASON}"
    skipped = {skip["member_id"]: skip["reason"] for skip in document["decisions"][0]["stages"]["assign"]["skipped"]}
    assert skipped[REP_1] == f"rejected this record on {utc_now().date().isoformat()}: {REASON}"


def test_only_the_owner_may_reject_and_unknown_records_are_not_found(pipeline: Pipeline, org: FakeStreamingOrg) -> None:
    client = _client(pipeline, org)
    _route(pipeline, org, 1)
    auth = _auth(pipeline)

    not_owner = _reject(client, auth, REP_2)
    unknown = _reject(client, auth, REP_1, index=9)
    bad_member = _reject(client, auth, "not-a-user-id-xx")
    pipeline.drain()

    assert (not_owner.status_code, unknown.status_code, bad_member.status_code) == (409, 404, 422)
    assert "only its owner may reject it" in not_owner.json()["detail"]
    assert "has not routed" in unknown.json()["detail"]
    assert _owner(pipeline) == REP_1


def test_the_reject_scope_is_needed_and_a_pinned_token_rejects_only_as_its_user(
    pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    client = _client(pipeline, org)
    _route(pipeline, org, 1)

    without_scope = _reject(client, _auth(pipeline, RECORDS_WRITE), REP_1)
    other_user = _reject(client, _auth(pipeline, RECORDS_REJECT, user=REP_2), REP_1)
    pipeline.drain()

    assert (without_scope.status_code, other_user.status_code) == (403, 403)
    assert "detail" in other_user.json()
    assert _owner(pipeline) == REP_1


def test_the_daily_limit_refuses_one_rejection_too_many_and_the_record_stays(
    pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    client = _client(pipeline, org, members=2, rejection="{daily_limit: 1}")
    auth = _auth(pipeline)
    assert _route(pipeline, org, 1) == REP_1
    assert _route(pipeline, org, 2) == REP_2
    assert _route(pipeline, org, 3) == REP_1

    first = _reject(client, auth, REP_1, index=1)
    second = _reject(client, auth, REP_1, index=3)
    pipeline.drain()

    assert first.status_code == 202
    assert second.status_code == 409
    assert "rejection.daily_limit 1" in second.json()["detail"]
    assert (_owner(pipeline, 1), _owner(pipeline, 3)) == (REP_2, REP_1)


@pytest.mark.parametrize(("counts", "rep_1_count"), [("true", 1), ("false", 0)])
def test_the_team_decides_whether_a_rejected_record_counts_for_the_rejecter(
    pipeline: Pipeline, org: FakeStreamingOrg, counts: str, rep_1_count: int
) -> None:
    client = _client(pipeline, org, members=2, fairness="{reset: day}",
                     rejection=f"{{counts_toward_fairness: {counts}}}")
    _route(pipeline, org, 1)

    response = _reject(client, _auth(pipeline), REP_1)
    pipeline.drain()

    assert response.status_code == 202
    members = pipeline.store.decisions.team_state("Inbound")["members"]  # type: ignore[index]
    assert members[REP_1].get("period_count", 0) == rep_1_count


FIELDS = "rejection: {field: Baton_Rejected__c, reason_field: Baton_Rejection_Reason__c}\n"


def _ticked(by: str, at_hour: int = 1) -> RecordEvent:
    """A change event of lead 1: the rejection checkbox ticked by ``by``, with a reason."""
    event = lead_event(1, source=Source.CHANGE_EVENT, event_id=f"cdc-{by}-{at_hour}", OwnerId=by,
                       Baton_Rejected__c=True, Baton_Rejection_Reason__c="duplicate of an open lead")
    return event.model_copy(update={"change_type": ChangeType.UPDATE, "changed_by": by,
                                    "changed_fields": ["Baton_Rejected__c", "Baton_Rejection_Reason__c"],
                                    "commit_timestamp": event.event_time() + timedelta(hours=at_hour)})


def test_the_owner_ticking_the_rejection_field_in_salesforce_rejects_the_record(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2) + FIELDS)
    pipeline.send([lead_event(1)])
    pipeline.drain()
    config = load_config_text(team_config(members=2) + FIELDS)

    by_someone_else = field_rejections([_ticked(REP_2)], config, pipeline.store.decisions, utc_now())
    [by_owner] = field_rejections([_ticked(REP_1, 2)], config, pipeline.store.decisions, utc_now())
    pipeline.send([by_owner])
    pipeline.drain()

    assert by_someone_else == [_ticked(REP_2)]  # not the owner: an ordinary change, nothing rejected
    assert by_owner.change_type is ChangeType.REASSIGN
    assert _owner(pipeline) == REP_2
    document = record_trace(RECORD, pipeline.store.operations.record_trace(RECORD))
    assert document["decisions"][0]["stages"]["assign"]["reasons"][0] == \
        "rejected by the owner: duplicate of an open lead"
    assert field_rejections([_ticked(REP_1)], None, pipeline.store.decisions, utc_now()) == [_ticked(REP_1)]


def test_a_repeated_rejection_request_rejects_once_and_answers_as_the_first(
    pipeline: Pipeline, org: FakeStreamingOrg
) -> None:
    """The same ``request_id`` again (a client retrying after a lost answer, or after a 503 that left the rejection
    stored) counts once toward the daily limit and answers with the first request's routing id, though the
    rejecter no longer owns the record."""
    client = _client(pipeline, org, members=2, rejection="{daily_limit: 1}")
    auth = _auth(pipeline)
    assert _route(pipeline, org, 1) == REP_1
    body = {"member_id": REP_1, "reason": REASON, "request_id": "reject-once"}

    first = client.post(f"/v1/records/Lead/{cdc.lead_id(1)}/reject", json=body, headers=auth)
    pipeline.drain()
    again = client.post(f"/v1/records/Lead/{cdc.lead_id(1)}/reject", json=body, headers=auth)
    pipeline.drain()

    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json()["routing_id"] == first.json()["routing_id"]
    with pipeline.store.decisions.reader() as reader:
        assert len(reader.rejections([("Lead", cdc.lead_id(1))])[("Lead", cdc.lead_id(1))]) == 1
    assert _owner(pipeline, 1) == REP_2
    other = client.post(f"/v1/records/Lead/{cdc.lead_id(1)}/reject",
                        json={**body, "member_id": REP_2}, headers=auth)
    assert other.status_code == 409 and "reject-once" in other.json()["detail"]
