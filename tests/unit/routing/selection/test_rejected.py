"""Members who rejected a record are never offered it, whatever the method (turns, sticky, lookup, pull), and
``why`` names the rejection; they keep their place in the turn order for other records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baton.assignment.assign import rejected_this_period
from kernel.ports.decisions import Rejection
from routing.selection import PreviousOwner, TeamState, select_owner
from routing.teams import Team

NOW = datetime(2024, 5, 6, 12, tzinfo=UTC)
WHY = "rejected this record on 2024-05-06: wrong region"


def team(**fields: object) -> Team:
    return Team.model_validate({"name": "sales", "members": [{"id": "u0"}, {"id": "u1"}, {"id": "u2"}], **fields})


def test_a_rejecter_is_skipped_with_the_reason_and_keeps_their_turn() -> None:
    selection, state = select_owner(team(), TeamState(), {}, NOW, rejected={"u0": WHY})
    assert selection.owner_id == "u1"
    assert selection.why_not("u0") == WHY
    assert [(s.member_id, s.reason) for s in selection.skipped][:1] == [("u0", WHY)]
    after, _ = select_owner(team(), state, {}, NOW)  # another record: u0 is still next in turn
    assert after.owner_id == "u0"


def test_every_member_rejected_holds_the_record() -> None:
    selection, _ = select_owner(team(), TeamState(), {}, NOW, rejected={m: WHY for m in ("u0", "u1", "u2")})
    assert selection.held


def test_the_sticky_and_the_looked_up_owner_are_passed_over_when_they_rejected_it() -> None:
    sticky = team(sticky={"key": "account", "window_days": 30})
    chosen, _ = select_owner(sticky, TeamState(), {}, NOW, sticky_owner=PreviousOwner("u2", NOW),
                             rejected={"u2": WHY})
    assert chosen.owner_id == "u0" and any(WHY in reason for reason in chosen.reasons)
    lookup = team(method="lookup_owner", lookup_owner={"field": "Owner__c"})
    looked_up, _ = select_owner(lookup, TeamState(), {"Owner__c": "u1"}, NOW, rejected={"u1": WHY})
    assert looked_up.owner_id != "u1"


def test_only_rejections_of_the_teams_current_period_count() -> None:
    daily = team(fairness={"reset": "day"})
    never = team()
    old = Rejection("Lead", "00Q", "u0", "sales", "wrong region", NOW - timedelta(days=1))
    today = Rejection("Lead", "00Q", "u1", "sales", "wrong region", NOW)
    assert rejected_this_period(daily, [old, today], NOW) == {"u1": WHY}
    assert set(rejected_this_period(never, [old, today], NOW)) == {"u0", "u1"}  # a period that never resets


def test_a_rejecter_cannot_pull_the_record_back_from_a_pull_queue() -> None:
    pull = team(method="pull")
    refused, _ = select_owner(pull, TeamState(), {}, NOW, puller="u0", rejected={"u0": WHY})
    taken, _ = select_owner(pull, TeamState(), {}, NOW, puller="u1", rejected={"u0": WHY})
    assert refused.held and refused.reasons[-1] == f"pull: u0 cannot take it: {WHY}"
    assert taken.owner_id == "u1"
