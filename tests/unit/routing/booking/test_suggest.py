"""The router graph's booking suggestions: what a walk's path suggests, how it ranks against the object's
suggestion rules, the walk at booking time for a record never routed, and the config checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kernel.errors import ConfigError
from routing.booking.config import HostOption
from routing.booking.suggest import GraphSuggestion, still_valid, suggest
from routing.config import OrgConfig, parse_config
from routing.facts import facts_for
from routing.graph import ChangeType, TriggerInput, booking_walk, route
from routing.unrouted_booking import unrouted_suggestion

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
REP = "005000000000001AAA"
OTHER_REP = "005000000000002AAA"
CREATED = TriggerInput(change=ChangeType.CREATE)
UPDATED = TriggerInput(change=ChangeType.UPDATE, changed_fields=frozenset({"Phone"}))
REP_HOST = {"kind": "user", "user_id": REP}
POOL_HOST = {"kind": "pool", "team": "Inbound"}


def graph(enterprise: dict[str, Any] | None = None, size: dict[str, Any] | None = None,
          smb: dict[str, Any] | None = None) -> dict[str, Any]:
    """start -> size (big?) -> enterprise | smb, each node with the given ``suggest_booking``."""
    nodes: dict[str, Any] = {
        "start": {"kind": "trigger", "next": "size"},
        "size": {"kind": "decision", "condition": {"field": "tags", "op": "contains", "value": "big"},
                 "then": "enterprise", "else": "smb"},
        "enterprise": {"kind": "assign_team", "team": "Inbound"},
        "smb": {"kind": "hold", "reason": "small companies wait"},
    }
    for name, suggestion in (("enterprise", enterprise), ("size", size), ("smb", smb)):
        if suggestion is not None:
            nodes[name]["suggest_booking"] = suggestion
    return {"nodes": nodes}


def org(lead_graph: dict[str, Any], **lead_booking: Any) -> dict[str, Any]:
    return {
        "teams": [{"name": "Inbound", "members": [{"id": REP}, {"id": OTHER_REP}]},
                  {"name": "Partners", "members": [{"id": OTHER_REP}]}],
        "classification": {"tag_rules": [
            {"name": "big", "when": {"field": "NumberOfEmployees", "op": "greater_than", "value": 1000},
             "tags": ["big"]}]},
        "graphs": {"Lead": lead_graph},
        "booking": {
            "types": [{"name": "Intro", "duration_minutes": 30}, {"name": "Demo", "duration_minutes": 60}],
            "pools": [{"team": "Inbound"}, {"team": "Partners"}],
            "objects": {"Lead": {"default_type": "Intro", "default_host": POOL_HOST, **lead_booking}},
        },
    }


def config(lead_graph: dict[str, Any], **lead_booking: Any) -> OrgConfig:
    return parse_config(org(lead_graph, **lead_booking))


def problems(lead_graph: dict[str, Any], **lead_booking: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(org(lead_graph, **lead_booking))
    return caught.value.problems


BIG = facts_for({"NumberOfEmployees": 5000}, tags={"big"})
SMALL = facts_for({"NumberOfEmployees": 10})


def test_the_walk_records_what_the_nodes_on_its_path_suggest() -> None:
    lead = config(graph(enterprise={"host": REP_HOST, "lock_host": True}, size={"meeting_type": "Demo"})).graphs["Lead"]

    big = route(lead, CREATED, BIG, NOW)
    small = route(lead, CREATED, SMALL, NOW)

    assert big.booking == GraphSuggestion(host=HostOption(kind="user", user_id=REP), lock_host=True,
                                          host_node="enterprise", meeting_type="Demo", meeting_type_node="size")
    assert small.booking == GraphSuggestion(meeting_type="Demo", meeting_type_node="size")


def test_the_node_nearest_the_action_wins_each_part_on_its_own() -> None:
    lead = config(graph(size={"host": POOL_HOST, "meeting_type": "Intro", "lock_meeting_type": True},
                        enterprise={"meeting_type": "Demo"})).graphs["Lead"]

    plan = route(lead, CREATED, BIG, NOW)

    assert plan.booking is not None
    assert (plan.booking.meeting_type, plan.booking.lock_meeting_type, plan.booking.meeting_type_node) == (
        "Demo", False, "enterprise")
    assert (plan.booking.host, plan.booking.host_node) == (HostOption(kind="pool", team="Inbound"), "size")


def test_an_event_that_does_not_route_records_no_suggestion_but_the_booking_walk_still_finds_it() -> None:
    lead = config(graph(enterprise={"host": REP_HOST, "lock_host": True})).graphs["Lead"]

    not_routed = route(lead, UPDATED, BIG, NOW)
    walked = booking_walk(lead, BIG, NOW)

    assert (not_routed.triggered, not_routed.booking) == (False, None)
    assert walked.booking is not None and walked.booking.host_node == "enterprise"
    assert [step.node for step in walked.path] == ["start", "size", "enterprise"]
    assert walked.action is None  # a booking walk assigns nothing


def test_a_path_without_suggestions_suggests_nothing() -> None:
    lead = config(graph()).graphs["Lead"]

    assert route(lead, CREATED, BIG, NOW).booking is None
    assert booking_walk(lead, SMALL, NOW).booking is None


def test_the_graphs_parts_come_before_the_rules_which_come_before_the_defaults() -> None:
    rules = [{"name": "all demos", "when": {"field": "NumberOfEmployees", "op": "greater_than", "value": 0},
              "meeting_type": "Demo", "host": {"kind": "pool", "team": "Partners"}}]
    settings = config(graph(), suggestions=rules).booking
    from_graph = GraphSuggestion(host=HostOption(kind="user", user_id=REP), lock_host=True, host_node="enterprise")

    both = suggest(settings, "Lead", SMALL, NOW, from_graph)
    rules_only = suggest(settings, "Lead", SMALL, NOW)
    neither = suggest(settings, "Lead", {}, NOW)

    assert (both.host, both.host_locked, both.host_rule) == (
        HostOption(kind="user", user_id=REP), True, "graph node enterprise")
    assert (both.meeting_type, both.meeting_type_rule) == ("Demo", "all demos")
    assert rules_only.host == HostOption(kind="pool", team="Partners")
    assert (neither.host, neither.meeting_type, neither.host_locked) == (
        HostOption(kind="pool", team="Inbound"), "Intro", False)


def test_a_record_never_routed_is_classified_before_the_walk() -> None:
    """The graph branches on the ``big`` tag, which only classification gives: the record's fields suffice."""
    org_config = config(graph(enterprise={"host": REP_HOST, "lock_host": True}, smb={"meeting_type": "Demo"}))

    big = unrouted_suggestion(org_config, "Lead", {"NumberOfEmployees": 5000}, NOW)
    small = unrouted_suggestion(org_config, "Lead", {"NumberOfEmployees": 10}, NOW)

    assert big is not None and (big.host, big.lock_host) == (HostOption(kind="user", user_id=REP), True)
    assert small == GraphSuggestion(meeting_type="Demo", meeting_type_node="smb")
    assert unrouted_suggestion(org_config, "Contact", {}, NOW) is None  # no graph for the object


@pytest.mark.parametrize(
    ("suggestion", "lead_booking", "expected"),
    [
        pytest.param({"meeting_type": "Lunch"}, {}, ("meeting_type", "unknown booking type 'Lunch'"),
                     id="unknown meeting type"),
        pytest.param({"meeting_type": "Demo"}, {"allowed_types": ["Intro"]},
                     ("meeting_type", "'Demo' is not one of allowed_types"), id="type not offered"),
        pytest.param({"host": {"kind": "pool", "team": "Sales"}}, {},
                     ("host.team", "unknown team 'Sales'"), id="unknown pool team"),
        pytest.param({"host": {"kind": "pool", "team": "Partners"}}, {"pools": ["Inbound"]},
                     ("host.team", "pool 'Partners' is not in the object's pools"), id="pool not offered"),
        pytest.param({"host": {"kind": "account_owner"}}, {"host_options": ["pool", "user"]},
                     ("host.kind", "'account_owner' is not in host_options"), id="host kind not offered"),
    ],
)
def test_a_suggestion_the_booking_section_cannot_honour_is_named_by_its_path(
    suggestion: dict[str, Any], lead_booking: dict[str, Any], expected: tuple[str, str]
) -> None:
    field, message = expected

    found = problems(graph(enterprise=suggestion), **lead_booking)

    assert found == [(f"graphs.Lead.nodes.enterprise.suggest_booking.{field}", message)]


def test_an_object_without_booking_settings_cannot_take_graph_suggestions() -> None:
    data = org(graph(size={"meeting_type": "Demo"}))
    data["graphs"] = {"Contact": data["graphs"]["Lead"]}

    with pytest.raises(ConfigError) as caught:
        parse_config(data)

    assert caught.value.problems == [("graphs.Contact.nodes.size.suggest_booking",
                                      "Contact has no booking settings (add booking.objects.Contact)")]


@pytest.mark.parametrize(
    ("suggestion", "message"),
    [
        pytest.param({"lock_host": True, "meeting_type": "Demo"}, "lock_host needs a host", id="lock without host"),
        pytest.param({"host": REP_HOST, "lock_meeting_type": True}, "lock_meeting_type needs a meeting_type",
                     id="lock without type"),
        pytest.param({}, "suggest a host, a meeting_type or both", id="empty"),
        pytest.param({"host": REP_HOST, "colour": "red"}, "unknown key", id="unknown key"),
    ],
)
def test_a_malformed_suggestion_is_refused(suggestion: dict[str, Any], message: str) -> None:
    found = problems(graph(enterprise=suggestion))

    assert len(found) == 1 and found[0][1] == message
    assert found[0][0].startswith("graphs.Lead.nodes.enterprise.") and "suggest_booking" in found[0][0]


def test_a_fallback_carries_no_suggestion_of_its_own() -> None:
    lead = graph()
    lead["nodes"]["enterprise"] = {"kind": "assign_related_owner",
                                   "fallback": {"team": "Inbound", "suggest_booking": {"meeting_type": "Demo"}}}

    found = problems(lead)

    assert [message for _, message in found] == ["suggest_booking goes on the node itself, not on its fallback"]
    assert found[0][0].startswith("graphs.Lead.nodes.enterprise.") and found[0][0].endswith("fallback")


def test_a_recorded_suggestion_loses_the_parts_todays_booking_section_no_longer_has() -> None:
    """A routing decision made under an older config may name a pool or type since removed: those parts go."""
    settings = config(graph(), allowed_types=["Intro"], pools=["Inbound"]).booking
    recorded = GraphSuggestion(host=HostOption(kind="pool", team="Partners"), lock_host=True, host_node="old",
                               meeting_type="Intro", lock_meeting_type=True, meeting_type_node="size")
    gone = GraphSuggestion(meeting_type="Demo", lock_meeting_type=True, meeting_type_node="old")
    teams = {"Inbound", "Partners"}

    assert still_valid(recorded, settings, "Lead", teams) == GraphSuggestion(
        meeting_type="Intro", lock_meeting_type=True, meeting_type_node="size")
    assert still_valid(gone, settings, "Lead", teams) is None
    assert still_valid(recorded, settings, "Contact", teams) is None  # no booking settings for the object
