"""Member edits of the org config's data: a member listed in two teams (even through a YAML anchor) is changed
where asked and nowhere else; unknown teams and members are named; the edited data is a valid config again."""

from __future__ import annotations

import pytest

from baton.members.edits import (
    MemberExists,
    UnknownMember,
    UnknownTeam,
    add_member,
    change_member,
    member_entries,
    remove_member,
    set_everywhere,
)
from routing.config import config_data, config_text, load_config_text

SHARED = """\
teams:
  - name: Inbound
    members: &reps
      - {id: "005A", name: "Ana", weight: 2}
      - {id: "005B", name: "Ben"}
  - name: Outbound
    members: *reps
default_team: Inbound
"""


def test_a_change_to_one_teams_member_leaves_the_other_team_listing_them_through_an_anchor_alone() -> None:
    data = config_data(SHARED)

    before, after = change_member(data, "Outbound", "005A", {"weight": 5, "skills": ["french"], "name": None})

    assert (before, after) == ({"weight": 2, "skills": None, "name": "Ana"}, {"weight": 5, "skills": ["french"],
                                                                               "name": None})
    config = load_config_text(config_text(data))
    assert config.team("Outbound").member("005A").weight == 5  # type: ignore[union-attr]
    assert config.team("Outbound").member("005A").name == ""  # type: ignore[union-attr]
    assert config.team("Inbound").member("005A").weight == 2  # type: ignore[union-attr]


def test_set_everywhere_changes_the_member_in_every_team_and_says_what_each_had() -> None:
    data = config_data(SHARED)

    before, after = set_everywhere(data, "005B", "skills", ["german"])

    assert (before, after) == ({"Inbound": None, "Outbound": None}, {"Inbound": ["german"], "Outbound": ["german"]})
    config = load_config_text(config_text(data))
    assert {team.name: team.member("005B").skills for team in config.teams} == {  # type: ignore[union-attr]
        "Inbound": {"german"}, "Outbound": {"german"}}


def test_add_and_remove_change_one_team() -> None:
    data = config_data(SHARED)

    add_member(data, "Inbound", {"id": "005C", "caps": {"per_day": 4}})
    removed = remove_member(data, "Outbound", "005A")

    config = load_config_text(config_text(data))
    assert [member.id for member in config.team("Inbound").members] == ["005A", "005B", "005C"]
    assert [member.id for member in config.team("Outbound").members] == ["005B"]
    assert removed["name"] == "Ana"


def test_unknown_teams_and_members_and_a_second_listing_are_refused_naming_them() -> None:
    data = config_data(SHARED)

    with pytest.raises(UnknownTeam, match="'Support'"):
        add_member(data, "Support", {"id": "005C"})
    with pytest.raises(UnknownMember, match="'005Z' is not in team 'Inbound'"):
        change_member(data, "Inbound", "005Z", {"weight": 1})
    with pytest.raises(UnknownMember, match="'005Z' is not in any team"):
        member_entries(data, "005Z")
    with pytest.raises(MemberExists, match="'005A' is already in team 'Inbound'"):
        add_member(data, "Inbound", {"id": "005A"})
    assert config_data(SHARED) == data
