"""The pull method's selection: without a puller the record waits in the queue; a puller gets it only if it
suits them (skills, member filters) and they may take it (active, not toggled off, under their caps), and then
it counts towards their caps like any record."""

from __future__ import annotations

from datetime import UTC, datetime

from routing.methods import Method
from routing.selection import TeamState, select_owner
from routing.teams import Team

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday
REP_1, REP_2 = "005000000000001AAA", "005000000000002AAA"
TEAM = Team.model_validate({
    "name": "Queue", "method": "pull", "skills_from": ["Language"],
    "hours": {"mon": [{"start": "00:00", "end": "00:01"}]},  # outside team hours: a pull still works
    "members": [{"id": REP_1, "skills": ["en", "de"], "caps": {"per_day": 1}}, {"id": REP_2, "skills": ["en"]}],
})


def test_without_a_puller_the_record_waits_in_the_queue() -> None:
    selection, _ = select_owner(TEAM, TeamState(), {"Language": "en"}, NOW)
    assert selection.held and selection.method == Method.PULL
    assert selection.reasons == ["pull: waiting in team Queue's queue until a member pulls it"]


def test_a_puller_gets_a_record_that_suits_them_and_it_counts_to_their_caps() -> None:
    selection, state = select_owner(TEAM, TeamState(), {"Language": "de"}, NOW, puller=REP_1)
    assert selection.owner_id == REP_1 and selection.reasons[-1] == f"pull: {REP_1} pulled it from the queue"
    again, _ = select_owner(TEAM, state, {"Language": "en"}, NOW, puller=REP_1)
    assert again.held and "cap" in again.reasons[-1]


def test_a_puller_without_the_skill_or_toggled_off_or_outside_the_team_gets_nothing() -> None:
    missing, _ = select_owner(TEAM, TeamState(), {"Language": "de"}, NOW, puller=REP_2)
    toggled, _ = select_owner(TEAM, TeamState(), {"Language": "en"}, NOW, puller=REP_2, unavailable={REP_2})
    stranger, _ = select_owner(TEAM, TeamState(), {"Language": "en"}, NOW, puller="005000000000009AAA")
    assert missing.held and "cannot take it" in missing.reasons[-1]
    assert toggled.held and "cannot take it" in toggled.reasons[-1]
    assert stranger.held and "not a member of the team" in stranger.reasons[-1]
