"""The example org routes a realistic set of leads through every stage: territory, match, graph, owner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.files import read_jsonl
from messages import RecordEvent
from tests.support.pipeline import Pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACCOUNT_OWNER_A = "005000000000009AAA"
ACCOUNT_OWNER_B = "005000000000008AAA"
INBOUND = {"005000000000001AAA", "005000000000002AAA", "005000000000003AAA"}
EMEA = {"005000000000004AAA", "005000000000005AAA"}
ENTERPRISE = {"005000000000006AAA", "005000000000007AAA"}

# record number: (territory, matched account or None, expected team or None for a direct owner, owners allowed)
EXPECTED = {
    1: ("North America", "001000000000001AAA", None, {ACCOUNT_OWNER_A}),  # email domain acme.com
    2: ("DACH", "001000000000002AAA", None, {ACCOUNT_OWNER_B}),  # email domain globex.de
    3: ("North America", "001000000000003AAA", None, {ACCOUNT_OWNER_A}),  # gmail, so by company name
    4: ("UK and Ireland", None, "EMEA", EMEA),
    5: ("DACH", None, "EMEA", EMEA),  # country written as "Deutschland"
    6: ("Rest of world", None, "Enterprise", ENTERPRISE),  # 9,000 employees stamps Enterprise
    7: ("North America", None, "Enterprise", ENTERPRISE),
    8: ("North America", None, "Inbound", INBOUND),
    9: ("North America", None, "Inbound", INBOUND),
    10: ("Rest of world", None, "Inbound", INBOUND),
    11: ("UK and Ireland", None, "EMEA", EMEA),  # gmail.com never matches the account whose site is gmail.com
    12: ("Rest of world", None, "Inbound", INBOUND),
}


@pytest.fixture
def routed(pipeline: Pipeline) -> dict[int, dict]:  # type: ignore[type-arg]
    pipeline.apply((EXAMPLES / "org.yaml").read_text())
    pipeline.use_reference(accounts=EXAMPLES / "accounts.jsonl")
    events = [e for e in read_jsonl(EXAMPLES / "leads.jsonl", datetime.now(UTC)) if isinstance(e, RecordEvent)]
    pipeline.send(events, batch_size=5)
    pipeline.drain()
    logs = pipeline.store.decisions.assignment_logs(e.routing_id for e in events)
    return {int(e.record_id[3:15]): logs[e.routing_id] for e in events}


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_each_example_lead_gets_its_territory_match_and_owner(routed: dict[int, dict], number: int) -> None:  # type: ignore[type-arg]
    territory, account, team, owners = EXPECTED[number]
    log = routed[number]
    assert log["outcome"] == "assigned"
    assert log["territory"]["name"] == territory
    assert log["match"]["record_id"] == account
    assert log["team"] == team
    assert log["owner_id"] in owners


def test_graph_path_is_logged_node_by_node(routed: dict[int, dict]) -> None:  # type: ignore[type-arg]
    enterprise = [step["node"] for step in routed[6]["path"]]
    matched = [step["node"] for step in routed[1]["path"]]
    assert enterprise == ["start", "has_account", "is_enterprise", "to_enterprise"]
    assert matched == ["start", "has_account", "to_account_owner"]
    assert "enterprise" in routed[6]["tags"]


def test_round_robin_within_each_team_is_even(routed: dict[int, dict]) -> None:  # type: ignore[type-arg]
    for members in (INBOUND, EMEA, ENTERPRISE):
        counts = {m: sum(1 for log in routed.values() if log["owner_id"] == m) for m in members}
        assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_lead_that_duplicates_a_contact_goes_to_the_contacts_owner(pipeline: Pipeline) -> None:
    """Lead 12 (jon@soylent.com) matches no account but is the same person as a known contact."""
    config = (EXAMPLES / "org.yaml").read_text().replace(
        "      has_account: {kind: match, match: account, matched: to_account_owner, unmatched: is_enterprise}",
        "      has_account: {kind: match, match: account, matched: to_account_owner, unmatched: is_contact}\n"
        "      is_contact: {kind: match, match: contact, matched: to_contact_owner, unmatched: is_enterprise}\n"
        "      to_contact_owner: {kind: assign_related_owner, match: contact, fallback: {team: Inbound}}",
    )
    pipeline.apply(config)
    pipeline.use_reference(accounts=EXAMPLES / "accounts.jsonl", contacts=EXAMPLES / "contacts.jsonl")
    events = [e for e in read_jsonl(EXAMPLES / "leads.jsonl", datetime.now(UTC)) if isinstance(e, RecordEvent)]
    pipeline.send([events[11], events[7]])
    pipeline.drain()

    logs = pipeline.store.decisions.assignment_logs([events[11].routing_id, events[7].routing_id])
    duplicate, other = logs[events[11].routing_id], logs[events[7].routing_id]
    assert (duplicate["match"]["object_type"], duplicate["match"]["method"]) == ("Contact", "email")
    assert duplicate["owner_id"] == "005000000000010AAA"
    assert [s["node"] for s in duplicate["path"]] == ["start", "has_account", "is_contact", "to_contact_owner"]
    assert other["match"]["record_id"] is None and other["team"] == "Inbound"


def test_unavailable_account_owner_gives_way_to_the_fallback_team(pipeline: Pipeline) -> None:
    """The matched account's owner is a member who is toggled unavailable: the graph's fallback team takes it."""
    config = (EXAMPLES / "org.yaml").read_text().replace(
        "default_team: Inbound",
        "  - name: Account owners\n    members:\n      - {id: \"005000000000009AAA\", name: Owner Nine}\n"
        "default_team: Inbound",
    )
    pipeline.apply(config)
    pipeline.use_reference(accounts=EXAMPLES / "accounts.jsonl")
    pipeline.store.decisions.set_member_available(ACCOUNT_OWNER_A, False, datetime.now(UTC))
    events = [e for e in read_jsonl(EXAMPLES / "leads.jsonl", datetime.now(UTC)) if isinstance(e, RecordEvent)]
    pipeline.send([events[0]])
    pipeline.drain()

    log = pipeline.store.decisions.assignment_logs([events[0].routing_id])[events[0].routing_id]
    assert log["match"]["owner_id"] == ACCOUNT_OWNER_A
    assert log["team"] == "Inbound" and log["owner_id"] in INBOUND
    assert any("is unavailable: toggled unavailable" in reason for reason in log["reasons"])
