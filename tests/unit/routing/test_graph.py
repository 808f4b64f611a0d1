"""The router graph: trigger decisions, each node kind, validation, and termination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kernel.errors import ConfigError
from routing.facts import facts_for
from routing.graph import (
    NODE_ADAPTER,
    AssignOwner,
    AssignTeam,
    ChangeType,
    Graph,
    Hold,
    RoutePlan,
    Stop,
    TriggerInput,
    TriggerNode,
    Wait,
    decide_trigger,
    reachable,
    route,
    validate_graph,
    validate_graphs,
)
from routing.teams import Method

NOW = datetime(2024, 5, 6, 15, 30, tzinfo=UTC)
TEAMS = {"Inbound", "Enterprise", "EMEA", "Partners"}
USER_ID = "005000000000001AAA"
OTHER_USER_ID = "005000000000002AAA"
QUEUE_ID = "00G000000000001AAA"
ACCOUNT_ID = "001000000000001AAA"
CREATED = TriggerInput(change=ChangeType.CREATE, owner_id=USER_ID)

EXAMPLE_YAML = """
description: Inbound leads
nodes:
  start:
    kind: trigger
    on_create: true
    when_owner_is_queue: true
    when_fields_change: [Status, Country]
    allow_manual_owner_change: false
    next: is_partner_referral
  is_partner_referral:
    kind: decision
    condition: {field: LeadSource, op: in, value: [Partner Referral]}
    then: to_referrer
    else: has_account
  to_referrer:
    kind: assign_user_field
    user_field: Referrer__c
    fallback: {team: Partners}
  has_account:
    kind: match
    match: account
    min_score: 0.8
    matched: to_account_owner
    unmatched: by_region
  to_account_owner:
    kind: assign_related_owner
    match: account
    fallback: {team: Inbound, method: round_robin}
  by_region:
    kind: switch
    branches:
      - label: enterprise
        when:
          all:
            - {field: tags, op: contains, value: enterprise}
            - {not: {field: Country, op: in, value: [CU, IR, KP]}}
        next: to_enterprise
      - label: emea
        when: {field: territory, op: in, value: [EMEA North, EMEA South]}
        next: to_emea
      - label: students
        when: {field: tags, op: contains, value: student}
        next: drop
      - label: no email
        when: {field: Email, op: is_empty}
        next: wait
    default: to_inbound
  to_enterprise:
    kind: assign_team
    team: Enterprise
    method: weighted
    required_skills: [enterprise]
  to_emea: {kind: assign_team, team: EMEA}
  to_inbound: {kind: assign_team, team: Inbound}
  drop: {kind: stop, reason: students are not sales leads}
  wait: {kind: hold, reason: waiting for an email address}
  to_queue: {kind: assign_owner, owner_id: 00G000000000001AAA}
"""


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE_YAML)
    del data["nodes"]["to_queue"]  # listed to show the node kind; unreachable here
    return data


def graph_of(nodes: dict[str, Any]) -> Graph:
    return Graph.model_validate({"nodes": nodes})


def trigger(next_node: str = "act", **options: Any) -> dict[str, Any]:
    return {"kind": "trigger", "next": next_node, **options}


def when(field: str, *values: Any) -> dict[str, Any]:
    return {"field": field, "op": "in", "value": list(values)}


def team(name: str = "Inbound", **options: Any) -> dict[str, Any]:
    return {"kind": "assign_team", "team": name, **options}


def run(nodes: dict[str, Any], facts: dict[str, Any], event: TriggerInput = CREATED):
    return route(graph_of(nodes), event, facts, NOW)


# --- trigger ---------------------------------------------------------------------------------

WATCHING = TriggerNode.model_validate(trigger(when_fields_change=["Status"]))
ALLOWING = TriggerNode.model_validate(trigger(allow_manual_owner_change=True))
STRICT = TriggerNode.model_validate(trigger(on_create=False, when_owner_is_queue=False))
UPDATE = ChangeType.UPDATE


def updated(owner_id: str, *fields: str, by_baton: bool = False) -> TriggerInput:
    return TriggerInput(UPDATE, owner_id, frozenset(fields), by_baton=by_baton)


def unknown_update(owner_id: str) -> TriggerInput:
    return TriggerInput(UPDATE, owner_id, changed_fields=None)


CITY_WATCHER = TriggerNode.model_validate(trigger(when_fields_change=["City"]))
UNDELETING = TriggerNode.model_validate(trigger(on_undelete=True))
TRUSTING = TriggerNode.model_validate(trigger(when_changes_unknown=True))
BATON_CREATE = TriggerInput(ChangeType.CREATE, QUEUE_ID, None, by_baton=True)
TRIGGER_CASES = [
    ("create routes", WATCHING, CREATED, True),
    ("ordinary update does not route", WATCHING, updated(USER_ID, "Phone"), False),
    ("update while owner is a queue routes", WATCHING, updated(QUEUE_ID, "Phone"), True),
    ("watched field changed, any case", WATCHING, updated(USER_ID, "status"), True),
    ("compound field part counts", CITY_WATCHER, updated(USER_ID, "Address.City"), True),
    ("manual owner change does not route", WATCHING, updated(OTHER_USER_ID, "OwnerId"), False),
    ("manual owner change beats a watched field", WATCHING,
     updated(OTHER_USER_ID, "OwnerId", "Status"), False),
    ("manual owner change routes if allowed", ALLOWING, updated(OTHER_USER_ID, "OwnerId"), True),
    ("manual owner change to a queue routes", WATCHING, updated(QUEUE_ID, "OwnerId"), True),
    ("Baton's own create never routes", WATCHING, BATON_CREATE, False),
    ("Baton's own owner change never routes", ALLOWING,
     updated(QUEUE_ID, "OwnerId", by_baton=True), False),
    ("delete never routes", WATCHING, TriggerInput(ChangeType.DELETE, QUEUE_ID), False),
    ("undelete off by default", WATCHING, TriggerInput(ChangeType.UNDELETE, USER_ID), False),
    ("undelete routes when asked", UNDELETING, TriggerInput(ChangeType.UNDELETE, USER_ID), True),
    ("reassignment always routes", STRICT, TriggerInput(ChangeType.REASSIGN, USER_ID), True),
    ("no change list: no route by default", WATCHING, unknown_update(USER_ID), False),
    ("no change list: owner queue routes", WATCHING, unknown_update(QUEUE_ID), True),
    ("no change list: routes when trusted", TRUSTING, unknown_update(USER_ID), True),
    ("create off", STRICT, CREATED, False),
    ("queue trigger off", STRICT, TriggerInput(ChangeType.CREATE, QUEUE_ID), False),
]


@pytest.mark.parametrize(
    ("node", "event", "routes"),
    [pytest.param(*case[1:], id=case[0]) for case in TRIGGER_CASES],
)
def test_trigger_decision(node: TriggerNode, event: TriggerInput, routes: bool) -> None:
    decision = decide_trigger(node, event)
    assert decision.routes is routes
    assert decision.reason.startswith("routed" if routes else "not routed")


def test_ordinary_update_reason_says_no_trigger_matched() -> None:
    decision = decide_trigger(WATCHING, updated(USER_ID, "Phone"))
    assert decision.reason == "not routed: ordinary update, no trigger matched"


def test_untriggered_plan_has_no_action_and_only_the_trigger_step() -> None:
    plan = run({"start": trigger(), "act": team()}, {}, updated(USER_ID, "Phone"))
    assert not plan.triggered
    assert plan.action is None
    assert [(step.node, step.outcome) for step in plan.path] == [("start", "not routed")]
    assert plan.reason == plan.path[0].reason


# --- decision, switch and match nodes --------------------------------------------------------

DECISION = {
    "start": trigger("is_us"),
    "is_us": {
        "kind": "decision",
        "condition": when("Country", "US", "CA"),
        "then": "na",
        "else": "rest",
    },
    "na": team("Inbound"),
    "rest": team("EMEA"),
}


@pytest.mark.parametrize(
    ("country", "outcome", "team_name"),
    [
        ("US", "true", "Inbound"),
        ("CA", "true", "Inbound"),
        ("DE", "false", "EMEA"),
        (None, "false", "EMEA"),
    ],
)
def test_decision_node_follows_then_or_else(
    country: str | None, outcome: str, team_name: str
) -> None:
    plan = run(DECISION, {"Country": country})
    assert plan.path[1].node == "is_us"
    assert plan.path[1].outcome == outcome
    assert plan.path[1].reason
    assert isinstance(plan.action, AssignTeam)
    assert plan.action.team == team_name


SWITCH = {
    "start": trigger("region"),
    "region": {
        "kind": "switch",
        "branches": [
            {"when": when("territory", "EMEA"), "next": "emea", "label": "emea"},
            {"when": when("Country", "DE"), "next": "partners"},
            {"when": when("tags", "never"), "next": "partners"},
        ],
        "default": "inbound",
    },
    "emea": team("EMEA"),
    "partners": team("Partners"),
    "inbound": team("Inbound"),
}


@pytest.mark.parametrize(
    ("facts", "outcome", "team_name"),
    [
        ({"territory": "EMEA", "Country": "DE"}, "emea", "EMEA"),
        ({"territory": "AMER", "Country": "DE"}, "branch 2", "Partners"),
        ({"territory": "AMER", "Country": "US"}, "default", "Inbound"),
        ({}, "default", "Inbound"),
    ],
    ids=["first matching branch wins", "unlabelled branch numbered", "default", "no facts"],
)
def test_switch_node_takes_first_matching_branch(
    facts: dict[str, Any], outcome: str, team_name: str
) -> None:
    plan = run(SWITCH, facts)
    assert plan.path[1].outcome == outcome
    assert isinstance(plan.action, AssignTeam)
    assert plan.action.team == team_name


MATCH = {
    "start": trigger("has_account"),
    "has_account": {"kind": "match", "match": "account", "min_score": 0.8, "matched": "owner",
                    "unmatched": "inbound"},
    "owner": {"kind": "assign_related_owner", "fallback": {"team": "Inbound"}},
    "inbound": team("Inbound"),
}


def matched(
    obj: str = "Account", score: float | None = 0.9, owner: str | None = USER_ID
) -> dict[str, Any]:
    """Facts as the match stage leaves them (``match.*`` keys)."""
    match = {"object": obj, "record_id": ACCOUNT_ID, "owner_id": owner, "score": score}
    return facts_for({}, match=match)


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        (matched(), "matched"),
        (matched(obj="account", score=0.8), "matched"),
        (matched(score=0.79), "unmatched"),
        (matched(score=None), "unmatched"),
        (matched(obj="Lead"), "unmatched"),
        ({}, "unmatched"),
    ],
    ids=["account match", "object case-insensitive, score at threshold", "score below threshold",
         "no score with a threshold", "match of another object", "no match"],
)
def test_match_node_branches_on_match_result(facts: dict[str, Any], outcome: str) -> None:
    plan = run(MATCH, facts)
    assert plan.path[1].node == "has_account"
    assert plan.path[1].outcome == outcome
    assert plan.path[2].node == ("owner" if outcome == "matched" else "inbound")


# --- action nodes ----------------------------------------------------------------------------

def act(node: dict[str, Any], facts: dict[str, Any] | None = None):
    plan = run({"start": trigger(), "act": node}, facts or {})
    assert plan.triggered
    assert [step.node for step in plan.path] == ["start", "act"]
    return plan.action, plan.path[-1]


def test_assign_team_carries_method_override_and_skills() -> None:
    action, step = act(team("Enterprise", method="weighted", required_skills=["german", "saas"]))
    assert action == AssignTeam(team="Enterprise", method=Method.WEIGHTED,
                                required_skills=frozenset({"german", "saas"}))
    assert step.outcome == "assign"
    assert "Enterprise" in step.reason and "weighted" in step.reason


def test_assign_team_without_method_leaves_the_team_default() -> None:
    action, _ = act(team("Inbound"))
    assert isinstance(action, AssignTeam) and action.method is None


RELATED = {"kind": "assign_related_owner", "match": "account", "fallback": {"team": "Inbound"}}


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (matched(), AssignOwner(owner_id=USER_ID, source=f"owner of matched Account {ACCOUNT_ID}",
                                fallback=AssignTeam(team="Inbound"))),
        (matched(owner=None), AssignTeam(team="Inbound")),
        (matched(obj="Contact"), AssignTeam(team="Inbound")),
        ({}, AssignTeam(team="Inbound")),
    ],
    ids=["matched owner", "no owner: fallback", "wrong object: fallback", "no match: fallback"],
)
def test_related_owner_assigns_matched_owner_or_fallback(
    facts: dict[str, Any], expected: Any
) -> None:
    action, step = act(RELATED, facts)
    assert action == expected
    assert ("fallback" in step.reason) is isinstance(expected, AssignTeam)


USER_FIELD = {
    "kind": "assign_user_field",
    "user_field": "Referrer__c",
    "fallback": {"owner_id": QUEUE_ID},
}


@pytest.mark.parametrize(
    ("value", "owner_id", "source"),
    [
        (USER_ID, USER_ID, "Referrer__c"),
        ("005000000000001", "005000000000001", "Referrer__c"),
        (None, QUEUE_ID, "fallback for Referrer__c"),
        ("", QUEUE_ID, "fallback for Referrer__c"),
        ("Jane Doe", QUEUE_ID, "fallback for Referrer__c"),
        (ACCOUNT_ID, QUEUE_ID, "fallback for Referrer__c"),
    ],
    ids=["18-char user id", "15-char user id", "empty", "blank", "a name", "not a user id"],
)
def test_user_field_assigns_named_user_or_fallback(value: Any, owner_id: str, source: str) -> None:
    action, _ = act(USER_FIELD, {"Referrer__c": value})
    assert isinstance(action, AssignOwner)
    assert (action.owner_id, action.source) == (owner_id, source)


def test_fixed_owner_assigns_that_queue() -> None:
    action, step = act({"kind": "assign_owner", "owner_id": QUEUE_ID})
    assert action == AssignOwner(owner_id=QUEUE_ID, source="fixed owner")
    assert "queue" in step.reason


@pytest.mark.parametrize(
    ("node", "expected", "outcome"),
    [
        ({"kind": "hold", "reason": "no email yet"}, Hold(reason="no email yet"), "hold"),
        ({"kind": "stop"}, Stop(), "stop"),
        ({"kind": "stop", "reason": "spam"}, Stop(reason="spam"), "stop"),
    ],
)
def test_hold_and_stop_end_the_walk(node: dict[str, Any], expected: Any, outcome: str) -> None:
    action, step = act(node)
    assert action == expected
    assert step.outcome == outcome


def test_example_graph_path_is_logged_node_by_node() -> None:
    graph = Graph.model_validate(example())
    match = {"object": "Account", "record_id": ACCOUNT_ID, "owner_id": USER_ID, "score": 0.5}
    fields = {"LeadSource": "Web", "Country": "US", "Email": "ann@example.com"}
    facts = facts_for(fields, tags=["enterprise"], territory="EMEA North", match=match)
    plan = route(graph, CREATED, facts, NOW)
    assert [(step.node, step.outcome) for step in plan.path] == [
        ("start", "routed"),
        ("is_partner_referral", "false"),
        ("has_account", "unmatched"),
        ("by_region", "enterprise"),
        ("to_enterprise", "assign"),
    ]
    assert plan.action == AssignTeam(team="Enterprise", method=Method.WEIGHTED,
                                     required_skills=frozenset({"enterprise"}))


def test_plan_serialises_to_json_and_back() -> None:
    plan = route(Graph.model_validate(example()), CREATED, {"LeadSource": "Partner Referral"}, NOW)
    assert RoutePlan.model_validate_json(plan.model_dump_json()) == plan


# --- validation ------------------------------------------------------------------------------

def problems_of(nodes: dict[str, Any], teams: set[str] = TEAMS) -> list[tuple[str, str]]:
    return validate_graph({"nodes": nodes}, teams, where="graphs.Lead")


def decision(then: str, else_: str) -> dict[str, Any]:
    return {"kind": "decision", "condition": when("Country", "US"), "then": then, "else": else_}


def switch(default: str | None, *targets: str) -> dict[str, Any]:
    branches = [{"when": when("Country", f"C{i}"), "next": t} for i, t in enumerate(targets)]
    node = {"kind": "switch", "branches": branches}
    return node if default is None else {**node, "default": default}


LEAD = "graphs.Lead.nodes"
RELATED_TO_X = {"kind": "assign_related_owner", "fallback": {"team": "X"}}
VALIDATION_CASES = [
    (
        "unknown target",
        {"start": trigger("d"), "d": decision("a", "foo"), "a": team()},
        (f"{LEAD}.d.else", "unknown node 'foo'"),
    ),
    (
        "unknown branch target",
        {"start": trigger("s"), "s": switch("a", "a", "zz"), "a": team()},
        (f"{LEAD}.s.branches[1].next", "unknown node 'zz'"),
    ),
    (
        "cycle",
        {
            "start": trigger("a"),
            "a": decision("b", "x"),
            "b": decision("c", "x"),
            "c": decision("a", "x"),
            "x": team(),
        },
        (f"{LEAD}.a", "cycle: a -> b -> c -> a"),
    ),
    (
        "self loop",
        {"start": trigger("a"), "a": decision("a", "x"), "x": team()},
        (f"{LEAD}.a", "cycle: a -> a"),
    ),
    (
        "unreachable",
        {"start": trigger("a"), "a": team(), "lost": team()},
        (f"{LEAD}.lost", "unreachable from the trigger node"),
    ),
    (
        "switch without default",
        {"start": trigger("s"), "s": switch(None, "a"), "a": team()},
        (f"{LEAD}.s.default", "a multi-branch decision needs a default"),
    ),
    (
        "unknown team",
        {"start": trigger("a"), "a": team("Nobody")},
        (f"{LEAD}.a.team", "unknown team 'Nobody'"),
    ),
    (
        "unknown fallback team",
        {"start": trigger("a"), "a": RELATED_TO_X},
        (f"{LEAD}.a.fallback.team", "unknown team 'X'"),
    ),
    (
        "unknown team behind a branch",
        {"start": trigger("s"), "s": switch("b", "c"), "b": team(), "c": team("Nope")},
        (f"{LEAD}.c.team", "unknown team 'Nope'"),
    ),
    (
        "two triggers",
        {"start": trigger("a"), "again": trigger("a"), "a": team()},
        (LEAD, "more than one trigger node: start, again"),
    ),
    (
        "no trigger",
        {"a": decision("b", "b"), "b": team()},
        (LEAD, "no trigger node: the graph has no start"),
    ),
    (
        "edge back to the trigger",
        {"start": trigger("a"), "a": decision("b", "start"), "b": team()},
        (f"{LEAD}.a.else", "'start' is the trigger node; no edge may lead to it"),
    ),
]


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in VALIDATION_CASES],
)
def test_validation_reports_problem_with_path(
    nodes: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in problems_of(nodes)


def test_valid_variant_of_each_case_reports_nothing() -> None:
    """The table's graphs differ from valid ones only by the defect each case names."""
    nodes = {"start": trigger("s"), "s": switch("a", "b"), "a": team(), "b": RELATED_TO_X}
    assert problems_of(nodes, TEAMS | {"X"}) == []


def test_malformed_node_is_reported_and_others_still_checked() -> None:
    nodes = {
        "start": trigger("a"),
        "a": decision("b", "c"),
        "b": {"kind": "assign_team"},
        "c": team("Nobody"),
    }
    problems = problems_of(nodes)
    assert ("graphs.Lead.nodes.b.team", "Field required") in problems
    assert ("graphs.Lead.nodes.c.team", "unknown team 'Nobody'") in problems
    assert not any("unknown node" in message for _, message in problems)


def test_targets_of_a_malformed_node_still_count() -> None:
    """A bad condition on one node neither hides its unknown target nor orphans its targets."""
    broken = {**decision("b", "zz"), "condition": {"field": "X", "op": "between", "value": [5, 1]}}
    problems = problems_of({"start": trigger("a"), "a": broken, "b": team()})
    assert problems == [
        (f"{LEAD}.a.condition.value", "'between' range is reversed: 5 > 1"),
        (f"{LEAD}.a.else", "unknown node 'zz'"),
    ]


def test_unknown_node_kind_is_reported() -> None:
    problems = problems_of({"start": trigger("a"), "a": {"kind": "teleport"}})
    assert [path for path, _ in problems] == ["graphs.Lead.nodes.a"]


def test_unknown_graph_key_is_reported() -> None:
    problems = validate_graph({"nodes": {"start": trigger("a"), "a": team()}, "start": "x"}, TEAMS)
    assert problems == [("graph.start", "unknown key (a graph has 'nodes' and 'description')")]


def test_example_graph_is_valid() -> None:
    assert validate_graph(example(), TEAMS) == []
    assert validate_graph(Graph.model_validate(example()), TEAMS) == []


def test_loaded_graph_is_checked_against_team_names() -> None:
    graph = Graph.model_validate(example())
    assert validate_graphs({"Lead": graph}, TEAMS - {"EMEA"}) == [
        ("graphs.Lead.nodes.to_emea.team", "unknown team 'EMEA'")
    ]


@pytest.mark.parametrize(
    ("nodes", "fragment"),
    [
        (
            {"start": trigger("a"), "a": decision("b", "foo"), "b": team()},
            "nodes.a.else: unknown node 'foo'",
        ),
        ({"start": trigger("a"), "a": decision("a", "b"), "b": team()}, "nodes.a: cycle: a -> a"),
        ({"a": team()}, "nodes: no trigger node"),
    ],
)
def test_graph_with_structural_problems_does_not_load(nodes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        graph_of(nodes)


def test_route_refuses_a_cyclic_graph_built_without_validation() -> None:
    valid = graph_of({"start": trigger("a"), "a": decision("b", "b"), "b": team()})
    nodes = dict(valid.nodes)
    nodes["b"] = valid.nodes["a"].model_copy(update={"then": "a", "else_": "a"})
    cyclic = Graph.model_construct(nodes=nodes)
    with pytest.raises(ConfigError, match="cycle"):
        route(cyclic, CREATED, {}, NOW)


# --- properties ------------------------------------------------------------------------------

ACTION_NODES = [team("Inbound"), {"kind": "hold", "reason": "later"}, {"kind": "stop"},
                {"kind": "assign_owner", "owner_id": QUEUE_ID}]


@st.composite
def acyclic_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Random DAGs: branching nodes b0..bk point only forward, to later nodes or to actions."""
    branching = draw(st.integers(min_value=0, max_value=8))
    actions = draw(st.integers(min_value=1, max_value=3))
    action_names = [f"a{i}" for i in range(actions)]
    nodes: dict[str, Any] = {name: draw(st.sampled_from(ACTION_NODES)) for name in action_names}

    def later(index: int) -> str:
        return draw(st.sampled_from([f"b{j}" for j in range(index + 1, branching)] + action_names))

    for index in range(branching):
        kind = draw(st.sampled_from(["decision", "switch", "match"]))
        if kind == "decision":
            nodes[f"b{index}"] = decision(later(index), later(index))
            nodes[f"b{index}"]["condition"] = when(f"f{index}", True)
        elif kind == "switch":
            branches = [
                {"when": when(f"f{index}", value), "next": later(index)} for value in range(2)
            ]
            nodes[f"b{index}"] = {"kind": "switch", "branches": branches, "default": later(index)}
        else:
            nodes[f"b{index}"] = {"kind": "match", "match": "account", "matched": later(index),
                                  "unmatched": later(index)}
    nodes["start"] = trigger(later(-1))
    keep = reachable(_parsed(nodes), ["start"])
    return {name: node for name, node in nodes.items() if name in keep}


def _parsed(nodes: dict[str, Any]) -> dict[str, Any]:
    return {name: NODE_ADAPTER.validate_python(node) for name, node in nodes.items()}


FACTS = st.fixed_dictionaries(
    {f"f{i}": st.sampled_from([True, False, 0, 1, None]) for i in range(8)},
    optional={
        "match.object": st.sampled_from(["Account", "Lead"]),
        "match.record_id": st.just(ACCOUNT_ID),
    },
)


@settings(max_examples=150, deadline=None)
@given(nodes=acyclic_graphs(), facts=FACTS)
def test_valid_acyclic_graph_terminates_without_repeating_a_node(
    nodes: dict[str, Any], facts: dict[str, Any]
) -> None:
    assert problems_of(nodes) == []
    plan = run(nodes, facts)
    visited = [step.node for step in plan.path]
    assert len(visited) == len(set(visited))
    assert len(visited) <= len(nodes)
    assert plan.action is not None
    assert nodes[visited[-1]]["kind"] not in {"trigger", "decision", "switch", "match"}


@settings(max_examples=100, deadline=None)
@given(nodes=acyclic_graphs(), data=st.data())
def test_edge_back_to_an_ancestor_is_reported_as_a_cycle(
    nodes: dict[str, Any], data: st.DataObject
) -> None:
    rewirable = {"decision", "match"}
    branching = sorted(name for name, node in nodes.items() if node["kind"] in rewirable)
    if not branching:
        return
    source = data.draw(st.sampled_from(branching))
    parsed = _parsed(nodes)
    ancestors = [name for name in branching if source in reachable(parsed, [name])]
    target = data.draw(st.sampled_from(ancestors))
    edge = "then" if nodes[source]["kind"] == "decision" else "matched"
    nodes[source] = {**nodes[source], edge: target}
    cycles = [message for _, message in problems_of(nodes) if message.startswith("cycle: ")]
    assert any(source in message and target in message for message in cycles)


# --- delay ------------------------------------------------------------------------------------


DELAYED = Graph.model_validate({"nodes": {
    "start": {"kind": "trigger", "next": "wait"},
    "wait": {"kind": "delay", "minutes": 30, "next": "to_inbound"},
    "to_inbound": {"kind": "assign_team", "team": "Inbound"},
}})


def test_a_delay_node_waits_until_minutes_after_the_event() -> None:
    event = TriggerInput(change=ChangeType.CREATE, at=NOW)
    waiting = route(DELAYED, event, {}, NOW + timedelta(minutes=29, seconds=59))
    assert waiting.action == Wait(until=NOW + timedelta(minutes=30), reason=waiting.path[-1].reason)
    assert [(step.node, step.outcome) for step in waiting.path] == [("start", "routed"), ("wait", "waiting")]
    assert RoutePlan.model_validate_json(waiting.model_dump_json()) == waiting


def test_a_delay_node_whose_wait_is_over_goes_on() -> None:
    plan = route(DELAYED, TriggerInput(change=ChangeType.CREATE, at=NOW), {}, NOW + timedelta(minutes=30))
    assert plan.action == AssignTeam(team="Inbound")
    assert [(step.node, step.outcome) for step in plan.path] == [
        ("start", "routed"), ("wait", "waited"), ("to_inbound", "assign")]


def test_a_delay_node_needs_whole_minutes_and_a_next_node() -> None:
    assert problems_of({"start": {"kind": "trigger", "next": "wait"},
                        "wait": {"kind": "delay", "minutes": 0, "next": "gone"}})
    assert ("graphs.Lead.nodes.wait.next", "unknown node 'gone'") in [
        (where, what[:len("unknown node 'gone'")]) for where, what in problems_of(
            {"start": {"kind": "trigger", "next": "wait"}, "wait": {"kind": "delay", "minutes": 5, "next": "gone"}})]
