"""The pull method: a pull team's records wait in its queue (not assigned, never re-checked) until a member
pulls one; the member gets the highest-priority record they may take, decided like any other decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from baton.assignment.holds import recheck_due_holds
from baton.assignment.ports import AssignmentPorts
from baton.assignment.pull import PullRefused, pull
from baton.operations.why import record_trace
from entrypoints.http.app import create_app
from entrypoints.http.auth import RECORDS_PULL, RECORDS_WRITE
from kernel.clock import utc_now
from tests.support.configs import member_id
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

REP_1, REP_2 = member_id(1), member_id(2)


def pull_config(order: str = "", rep_2: str = "") -> str:
    return f"""teams:
  - name: Queue
    method: pull
    skills_from: [Language__c]
    members:
      - {{id: "{REP_1}", name: "Rep 1", skills: [en, de]}}
      - {{id: "{REP_2}", name: "Rep 2", skills: [en]{rep_2}}}
{order}default_team: Queue
"""


def queue(pipeline: Pipeline, *events: object, config: str | None = None) -> None:
    pipeline.apply(config or pull_config())
    pipeline.send(list(events))  # type: ignore[arg-type]
    pipeline.drain()


def ports(pipeline: Pipeline) -> AssignmentPorts:
    return AssignmentPorts.of(pipeline.app.ports)


def test_a_pull_teams_record_waits_in_the_queue_and_is_not_assigned(pipeline: Pipeline) -> None:
    event = lead_event(1, Language__c="en")
    queue(pipeline, event)

    log = pipeline.store.decisions.assignment_logs([event.routing_id])[event.routing_id]
    [waiting] = pipeline.store.holds.held()
    assert (log["outcome"], log["owner_id"], log["method"]) == ("held", None, "pull")
    assert "waiting in team Queue's queue" in log["reasons"][-1]
    assert (waiting.status, waiting.team) == ("queued", "Queue")
    assert pipeline.writer.written == []
    assert recheck_due_holds(pipeline.store.holds, pipeline.broker, datetime.now(UTC) + timedelta(days=1)) == 0


def test_a_pull_assigns_the_oldest_record_and_queues_its_owner_write(pipeline: Pipeline) -> None:
    first, second = lead_event(1, Language__c="en"), lead_event(2, Language__c="en")
    queue(pipeline, first, second)

    pulled = pull("Queue", REP_2, ports(pipeline))
    pipeline.flush()

    assert pulled.log is not None and pulled.log.record_id == first.record_id
    log = pipeline.store.decisions.assignment_logs([first.routing_id])[first.routing_id]
    assert (log["outcome"], log["owner_id"], log["method"]) == ("assigned", REP_2, "pull")
    assert any("waited in team Queue's pull queue" in reason for reason in log["reasons"])
    assert [change.record_id for change in pipeline.writer.written] == [first.record_id]
    assert [held.routing_id for held in pipeline.store.holds.held()] == [second.routing_id]
    assert pipeline.store.decisions.team_decisions("Queue") == 1


def test_a_member_gets_only_records_they_may_take(pipeline: Pipeline) -> None:
    german, english = lead_event(1, Language__c="de"), lead_event(2, Language__c="en")
    queue(pipeline, german, english)

    assert pull("Queue", REP_2, ports(pipeline)).log.record_id == english.record_id  # type: ignore[union-attr]
    nothing = pull("Queue", REP_2, ports(pipeline))
    assert nothing.log is None and "no record there that" in nothing.reason
    assert pull("Queue", REP_1, ports(pipeline)).log.record_id == german.record_id  # type: ignore[union-attr]


def test_an_empty_queue_answers_none(pipeline: Pipeline) -> None:
    pipeline.apply(pull_config())
    pulled = pull("Queue", REP_1, ports(pipeline))
    assert pulled.log is None and pulled.reason.startswith("none")


def test_caps_apply_to_pulls(pipeline: Pipeline) -> None:
    queue(pipeline, lead_event(1, Language__c="en"), lead_event(2, Language__c="en"),
          config=pull_config(rep_2=", caps: {per_day: 1}"))

    assert pull("Queue", REP_2, ports(pipeline)).log is not None
    assert pull("Queue", REP_2, ports(pipeline)).log is None
    assert pull("Queue", REP_1, ports(pipeline)).log is not None


def test_the_teams_order_picks_the_highest_priority_record(pipeline: Pipeline) -> None:
    order = "    order: {by: field, field: Score__c, direction: descending}\n"
    low, high, none = (lead_event(1, Language__c="en", Score__c=10), lead_event(2, Language__c="en", Score__c=90),
                       lead_event(3, Language__c="en"))
    queue(pipeline, low, high, none, config=pull_config(order))

    got = [pull("Queue", REP_1, ports(pipeline)).log for _ in range(3)]
    assert [log.record_id for log in got if log] == [high.record_id, low.record_id, none.record_id]


def test_a_pull_names_a_team_and_one_of_its_members(pipeline: Pipeline) -> None:
    pipeline.apply(pull_config())
    with pytest.raises(PullRefused, match="no team named 'Nope'"):
        pull("Nope", REP_1, ports(pipeline))
    with pytest.raises(PullRefused, match="not a member of team 'Queue'"):
        pull("Queue", member_id(7), ports(pipeline))


def test_why_shows_the_wait_in_the_queue_and_the_pull(pipeline: Pipeline) -> None:
    event = lead_event(1, Language__c="en")
    queue(pipeline, event)
    waiting = record_trace(event.record_id, pipeline.store.operations.record_trace(event.record_id))
    assert waiting["holds"][0]["status"] == "queued"
    assert waiting["decisions"][0]["hold"]["reason"].startswith("pull: waiting in team Queue's queue")

    pull("Queue", REP_1, ports(pipeline))

    pulled = record_trace(event.record_id, pipeline.store.operations.record_trace(event.record_id))
    [decision] = pulled["decisions"]
    assert pulled["holds"] == [] and (decision["outcome"], decision["owner_id"]) == ("assigned", REP_1)
    assert any(reason.startswith("waited in team Queue's pull queue from ") and " until pulled at " in reason
               for reason in decision["stages"]["assign"]["reasons"])


# --- POST /v1/teams/{team}/pull ----------------------------------------------------------------------------------


def _client(pipeline: Pipeline) -> TestClient:
    return TestClient(create_app(pipeline.app))


def _auth(pipeline: Pipeline, scopes: tuple[str, ...] = (RECORDS_PULL,), user: str | None = None) -> dict[str, str]:
    token, _ = pipeline.store.tokens.create("rep", scopes, utc_now(), scheduler_user_id=user)
    return {"Authorization": f"Bearer {token}"}


def test_the_endpoint_assigns_the_highest_priority_record_the_member_may_take(pipeline: Pipeline) -> None:
    order = "    order: {by: score, score: [{when: {field: Rating, op: equals, value: Hot}, points: 10}]}\n"
    cold, hot, german = (lead_event(1, Language__c="en"), lead_event(2, Language__c="en", Rating="Hot"),
                         lead_event(3, Language__c="de", Rating="Hot"))
    queue(pipeline, cold, hot, german, config=pull_config(order))
    client, auth = _client(pipeline), _auth(pipeline)

    first = client.post("/v1/teams/Queue/pull", json={"member_id": REP_2}, headers=auth)
    second = client.post("/v1/teams/Queue/pull", json={"member_id": REP_2}, headers=auth)
    third = client.post("/v1/teams/Queue/pull", json={"member_id": REP_2}, headers=auth)

    assert first.status_code == 200 and first.json()["record"]["record_id"] == hot.record_id
    assert first.json()["record"]["owner_id"] == REP_2
    assert second.json()["record"]["record_id"] == cold.record_id
    assert third.status_code == 200 and third.json()["pulled"] is False  # only German is left
    assert "no record there that" in third.json()["reason"]


def test_the_endpoint_answers_none_on_an_empty_queue(pipeline: Pipeline) -> None:
    pipeline.apply(pull_config())
    response = _client(pipeline).post("/v1/teams/Queue/pull", json={"member_id": REP_1}, headers=_auth(pipeline))
    assert response.status_code == 200 and response.json() == {
        "pulled": False, "reason": "none: team Queue's queue is empty"}


def test_the_endpoint_refuses_naming_what_is_wrong(pipeline: Pipeline) -> None:
    pipeline.apply(pull_config())
    client = _client(pipeline)
    body = {"member_id": REP_1}

    cases = {
        "no scope": (client.post("/v1/teams/Queue/pull", json=body, headers=_auth(pipeline, (RECORDS_WRITE,))), 403,
                     "lacks the scope records:pull"),
        "other user": (client.post("/v1/teams/Queue/pull", json=body, headers=_auth(pipeline, user=REP_2)), 403,
                       f"pulls only for user {REP_2}"),
        "no team": (client.post("/v1/teams/Nope/pull", json=body, headers=_auth(pipeline)), 404, "no team named 'Nope'"),
        "not a member": (client.post("/v1/teams/Queue/pull", json={"member_id": member_id(9)}, headers=_auth(pipeline)),
                         422, "is not a member of team 'Queue'"),
    }
    for name, (response, status, detail) in cases.items():
        assert (name, response.status_code) == (name, status)
        assert detail in str(response.json()["detail"]), name
    bad = client.post("/v1/teams/Queue/pull", json={}, headers=_auth(pipeline))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "member_id"]


def test_a_token_pinned_to_the_member_pulls_for_them(pipeline: Pipeline) -> None:
    queue(pipeline, lead_event(1, Language__c="en"))
    response = _client(pipeline).post("/v1/teams/Queue/pull", json={"member_id": REP_1},
                                      headers=_auth(pipeline, user=REP_1))
    assert response.status_code == 200 and response.json()["record"]["owner_id"] == REP_1


def test_a_pull_is_decided_under_the_config_in_force_now(pipeline: Pipeline) -> None:
    event = lead_event(1, Language__c="fr")
    queue(pipeline, event)  # nobody speaks French yet
    assert pull("Queue", REP_2, ports(pipeline)).log is None

    pipeline.apply(pull_config().replace("skills: [en]}", "skills: [en, fr]}"))

    pulled = pull("Queue", REP_2, ports(pipeline))
    assert pulled.log is not None and pulled.log.config_version == 2
