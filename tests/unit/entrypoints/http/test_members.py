"""The admin API (issue 22): each endpoint refused without a token (401) and without its scope (403); each
change audited (who, what, before and after, when) and in force for the very next routing decision; unknown
members and teams are 404s that name them, bad values 422s that name the field."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.configs import ConfigProvider
from baton.operations.why import record_trace
from entrypoints.http.app import create_app
from entrypoints.http.auth import MEMBERS_READ, MEMBERS_WRITE, RECORDS_WRITE
from kernel.clock import utc_now
from routing.config import load_config_text
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

ONE, TWO, NEW = member_id(1), member_id(2), member_id(9)
NOBODY = "005000000000404AAA"


@dataclasses.dataclass
class Admin:
    pipeline: Pipeline
    client: TestClient
    token_id: str
    headers: dict[str, str]

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        return self.client.request(method, path, json=body, headers=self.headers, params=params or None)

    def route(self, *numbers: int) -> dict[int, str | None]:
        """The owner each of these leads went to, routed now."""
        self.pipeline.send([lead_event(number) for number in numbers])
        self.pipeline.drain()
        owners = {log.record_id: log.owner_id for log in self.pipeline.sink.published}
        return {number: owners[lead_event(number).record_id] for number in numbers}

    def config(self) -> Any:
        stored = self.pipeline.store.administration.latest_config()
        assert stored is not None
        return load_config_text(stored.body)


@pytest.fixture
def admin(pipeline: Pipeline) -> Iterator[Admin]:
    pipeline.apply(team_config(members=2))
    token, stored = pipeline.store.tokens.create("ops-console", [MEMBERS_WRITE, MEMBERS_READ], utc_now())
    yield Admin(pipeline, TestClient(create_app(pipeline.app)), stored.id, {"Authorization": f"Bearer {token}"})


CALLS = [
    ("POST", f"/v1/members/{ONE}/availability", {"available": False, "reason": "lunch"}, MEMBERS_WRITE),
    ("PUT", f"/v1/members/{ONE}/out-of-office",
     {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}, MEMBERS_WRITE),
    ("DELETE", f"/v1/members/{ONE}/out-of-office", None, MEMBERS_WRITE),
    ("PUT", f"/v1/members/{ONE}/tags", {"tags": ["french"]}, MEMBERS_WRITE),
    ("POST", "/v1/teams/Inbound/members", {"id": NEW, "name": "Rep 9"}, MEMBERS_WRITE),
    ("PATCH", f"/v1/teams/Inbound/members/{ONE}", {"weight": 2}, MEMBERS_WRITE),
    ("DELETE", f"/v1/teams/Inbound/members/{TWO}", None, MEMBERS_WRITE),
    ("GET", "/v1/audit", None, MEMBERS_READ),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), CALLS, ids=[f"{c[0]} {c[1]}" for c in CALLS])
def test_each_call_is_refused_without_a_token_and_without_its_scope_and_then_audited(
    admin: Admin, method: str, path: str, body: Any, scope: str
) -> None:
    other_scope = {MEMBERS_WRITE: MEMBERS_READ, MEMBERS_READ: MEMBERS_WRITE}[scope]
    lacking, _ = admin.pipeline.store.tokens.create("lacking", [other_scope, RECORDS_WRITE], utc_now())

    anonymous = admin.client.request(method, path, json=body)
    forbidden = admin.client.request(method, path, json=body, headers={"Authorization": f"Bearer {lacking}"})
    assert anonymous.status_code == 401 and "bearer token" in anonymous.json()["detail"]
    assert forbidden.status_code == 403 and scope in forbidden.json()["detail"]
    assert admin.pipeline.store.audit.entries() == []  # nothing changed, nothing audited

    before = utc_now()
    allowed = admin.call(method, path, body)

    assert allowed.status_code in (200, 201), allowed.text
    if method == "GET":
        return
    [entry] = admin.pipeline.store.audit.entries()
    assert (entry.actor.id, entry.actor.name) == (admin.token_id, "ops-console")
    assert entry.member_id in (ONE, TWO, NEW) and entry.action and before <= entry.at <= utc_now()
    assert allowed.json()["id"] == entry.id and allowed.json()["by"] == {"id": admin.token_id, "name": "ops-console"}


def test_a_member_toggled_unavailable_gets_no_next_record_and_why_says_who_and_the_reason(admin: Admin) -> None:
    answer = admin.call("POST", f"/v1/members/{ONE}/availability", {"available": False, "reason": "logged out: lunch"})

    assert answer.status_code == 200
    assert (answer.json()["before"], answer.json()["after"]) == ({"available": True}, {"available": False})
    assert set(admin.route(1, 2, 3).values()) == {TWO}
    trace = record_trace(lead_event(1).record_id, admin.pipeline.store.operations.record_trace(lead_event(1).record_id))
    [change] = trace["decisions"][0]["stages"]["assign"]["member_changes"]
    assert change["member_id"] == ONE and change["skipped"] == "toggled unavailable"
    assert change["reason"] == "logged out: lunch" and change["by"] == {"id": admin.token_id, "name": "ops-console"}
    assert change["action"] == "set_unavailable" and change["at"]

    assert admin.call("POST", f"/v1/members/{ONE}/availability", {"available": True}).status_code == 200
    assert ONE in admin.route(4, 5).values()


def test_out_of_office_now_takes_the_member_out_until_cleared(admin: Admin) -> None:
    now = utc_now()
    period = {"start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=2)).isoformat(),
              "reason": "conference"}

    answer = admin.call("PUT", f"/v1/members/{TWO}/out-of-office", period)

    assert answer.status_code == 200 and answer.json()["config_version"] == 2
    assert set(admin.route(1, 2).values()) == {ONE}
    [change] = record_trace(lead_event(2).record_id, admin.pipeline.store.operations.record_trace(
        lead_event(2).record_id))["decisions"][0]["stages"]["assign"]["member_changes"]
    assert (change["member_id"], change["reason"], change["config_version"]) == (TWO, "conference", 2)

    assert admin.call("DELETE", f"/v1/members/{TWO}/out-of-office").status_code == 200
    assert admin.config().team("Inbound").member(TWO).out_of_office == []
    assert TWO in admin.route(3, 4).values()


def test_an_added_member_receives_records_and_a_removed_one_does_not(admin: Admin) -> None:
    added = admin.call("POST", "/v1/teams/Inbound/members", {"id": NEW, "name": "Rep 9", "weight": 1,
                                                             "skills": ["french"], "caps": {"per_day": 5}})
    assert added.status_code == 201, added.text
    assert added.json()["after"]["id"] == NEW and added.json()["before"] is None
    assert NEW in admin.route(1, 2, 3).values()

    assert admin.call("DELETE", f"/v1/teams/Inbound/members/{ONE}").status_code == 200
    assert ONE not in admin.route(4, 5, 6, 7).values()
    assert [entry.action for entry in admin.pipeline.store.audit.entries()] == ["remove_member", "add_member"]


def test_a_changed_weight_is_in_force_for_the_next_record_even_before_the_config_refresh(admin: Admin) -> None:
    admin.pipeline.apply(team_config(members=2, method="weighted"))
    slow = ConfigProvider(admin.pipeline.store.administration, refresh_ms=3_600_000)
    slow.current()  # loaded: the next read would come an hour later
    admin.pipeline.app.ports = dataclasses.replace(admin.pipeline.app.ports, configs=slow)

    changed = admin.call("PATCH", f"/v1/teams/Inbound/members/{ONE}", {"weight": 0, "caps": {"per_day": 3}})

    assert changed.status_code == 200, changed.text
    assert changed.json()["before"] == {"weight": None, "caps": None}
    assert changed.json()["after"] == {"weight": 0, "caps": {"per_day": 3}}
    assert set(admin.route(1, 2, 3).values()) == {TWO}
    assert admin.config().team("Inbound").member(ONE).caps.per_day == 3


def test_tags_set_the_members_skills_in_every_team_listing_them(admin: Admin) -> None:
    answer = admin.call("PUT", f"/v1/members/{ONE}/tags", {"tags": ["spanish", "french", "french"]})

    assert answer.status_code == 200
    assert answer.json()["after"] == {"Inbound": ["french", "spanish"]}
    assert admin.config().team("Inbound").member(ONE).skills == frozenset({"french", "spanish"})


def test_unknown_members_and_teams_are_404s_naming_them_and_nothing_is_changed(admin: Admin) -> None:
    versions = admin.pipeline.store.administration.latest_config()
    answers = [
        admin.call("POST", f"/v1/members/{NOBODY}/availability", {"available": False}),
        admin.call("PUT", f"/v1/members/{NOBODY}/tags", {"tags": ["x"]}),
        admin.call("DELETE", f"/v1/members/{NOBODY}/out-of-office"),
        admin.call("PATCH", f"/v1/teams/Inbound/members/{NOBODY}", {"weight": 2}),
        admin.call("DELETE", f"/v1/teams/Inbound/members/{NOBODY}"),
    ]
    team = admin.call("POST", "/v1/teams/Outbound/members", {"id": NEW})

    assert [answer.status_code for answer in answers] == [404] * 5
    assert all(NOBODY in answer.json()["detail"] for answer in answers)
    assert team.status_code == 404 and "'Outbound'" in team.json()["detail"]
    assert admin.pipeline.store.audit.entries() == []
    assert admin.pipeline.store.administration.latest_config() == versions


def test_invalid_values_are_422s_naming_the_field(admin: Admin) -> None:
    weight = admin.call("PATCH", f"/v1/teams/Inbound/members/{ONE}", {"weight": -1})
    unknown_key = admin.call("PATCH", f"/v1/teams/Inbound/members/{ONE}", {"wieght": 2})
    zone = admin.call("POST", "/v1/teams/Inbound/members", {"id": NEW, "timezone": "Mars/Base"})
    backwards = admin.call("PUT", f"/v1/members/{ONE}/out-of-office",
                           {"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"})
    duplicate = admin.call("POST", "/v1/teams/Inbound/members", {"id": ONE})

    assert weight.status_code == 422 and weight.json()["detail"][0]["loc"] == ["body", "weight"]
    assert unknown_key.status_code == 422 and unknown_key.json()["detail"][0]["loc"] == ["body", "wieght"]
    assert zone.status_code == 422 and zone.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert backwards.status_code == 422 and "not after start" in backwards.json()["detail"][0]["msg"]
    assert duplicate.status_code == 409 and ONE in duplicate.json()["detail"]
    assert admin.pipeline.store.audit.entries() == []


def test_a_change_the_config_refuses_is_a_422_naming_the_config_path(admin: Admin) -> None:
    last = admin.call("DELETE", f"/v1/teams/Inbound/members/{ONE}")
    assert last.status_code == 200
    empty = admin.call("DELETE", f"/v1/teams/Inbound/members/{TWO}")

    assert empty.status_code == 422 and empty.json()["detail"][0]["config_path"].startswith("teams[0].members")


def test_the_audit_lists_changes_newest_first_filtered_by_member(admin: Admin) -> None:
    admin.call("POST", f"/v1/members/{ONE}/availability", {"available": False, "reason": "away"})
    admin.call("PUT", f"/v1/members/{TWO}/tags", {"tags": ["french"]})
    admin.call("POST", f"/v1/members/{ONE}/availability", {"available": True})

    everything = admin.call("GET", "/v1/audit").json()["entries"]
    one = admin.call("GET", "/v1/audit", member=ONE, limit=1).json()["entries"]

    assert [entry["action"] for entry in everything] == ["set_available", "set_tags", "set_unavailable"]
    assert [(entry["member_id"], entry["action"]) for entry in one] == [(ONE, "set_available")]
    assert everything[2]["reason"] == "away" and everything[2]["by"]["name"] == "ops-console"


def test_no_config_applied_is_a_409_that_says_so(pipeline: Pipeline) -> None:
    token, _ = pipeline.store.tokens.create("ops", [MEMBERS_WRITE], utc_now())
    answer = TestClient(create_app(pipeline.app)).post(
        f"/v1/members/{ONE}/availability", json={"available": False}, headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 409 and "baton config apply" in answer.json()["detail"]
