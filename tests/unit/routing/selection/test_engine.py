"""Owner selection: each distribution method, lookup/related/sticky owners, skills, filters,
caps in member-local windows, backfill, holds and the explanations that come with them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from routing.selection import (
    PreviousOwner,
    Selection,
    TeamState,
    drop_past_windows,
    owner_changed,
    record_closed,
    record_opened,
    select_owner,
    set_open_counts,
)
from routing.teams import Team

MONDAY_NOON = datetime(2024, 5, 6, 12, tzinfo=UTC)
NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]


def make_team(members: list[dict[str, Any]] | int = 3, **fields: Any) -> Team:
    if isinstance(members, int):
        members = [{"id": f"u{i}", "name": f"User {i}"} for i in range(members)]
    return Team.model_validate({"name": "sales", "members": members, **fields})


def run(
    team: Team,
    count: int,
    *,
    state: TeamState | None = None,
    facts: dict[str, Any] | None = None,
    now: datetime = MONDAY_NOON,
    step: timedelta = timedelta(0),
    **options: Any,
) -> tuple[list[str | None], TeamState]:
    state = state or TeamState()
    owners: list[str | None] = []
    for number in range(count):
        selection, state = select_owner(team, state, facts or {}, now + step * number, **options)
        owners.append(selection.owner_id)
    return owners, state


# -- distribution methods -----------------------------------------------------------------------


def test_round_robin_cycles_in_configuration_order_and_positional_call_works() -> None:
    team = make_team(3)
    state = TeamState()
    owners = []
    for _ in range(7):
        selection, state = select_owner(team, state, {}, MONDAY_NOON)
        owners.append(selection.owner_id)
    assert owners == ["u0", "u1", "u2", "u0", "u1", "u2", "u0"]


def test_round_robin_skips_inactive_members() -> None:
    team = make_team([{"id": "a"}, {"id": "b", "active": False}, {"id": "c"}])
    owners, _ = run(team, 4)
    assert owners == ["a", "c", "a", "c"]


def test_weighted_gives_weight_two_twice_the_records_of_weight_one() -> None:
    team = make_team([{"id": "a", "weight": 1}, {"id": "b", "weight": 2}], method="weighted")
    owners, _ = run(team, 300)
    assert Counter(owners) == {"a": 100, "b": 200}


def test_weighted_never_picks_weight_zero() -> None:
    team = make_team([{"id": "a", "weight": 0}, {"id": "b", "weight": 1}], method="weighted")
    owners, _ = run(team, 5)
    assert set(owners) == {"b"}


def test_method_keyword_overrides_the_teams_method() -> None:
    team = make_team([{"id": "a", "weight": 1}, {"id": "b", "weight": 3}])
    owners, _ = run(team, 40, method="weighted")
    assert Counter(owners) == {"a": 10, "b": 30}


def test_load_balancing_picks_the_member_with_fewest_open_records() -> None:
    team = make_team(3, method="load_balancing")
    state = set_open_counts(TeamState(), {"u0": 5, "u1": 2, "u2": 4})
    owners, state = run(team, 3, state=state)
    assert owners == ["u1", "u1", "u2"]  # u1 reaches 4 open, ties go to the older turn


def test_load_balancing_follows_close_and_owner_change_events() -> None:
    team = make_team(2, method="load_balancing")
    state = set_open_counts(TeamState(), {"u0": 3, "u1": 3})
    selection, state = select_owner(team, state, {}, MONDAY_NOON)  # u0 -> 4 open
    assert selection.owner_id == "u0"
    state = record_closed(state, "u0")
    state = record_closed(state, "u0")  # u0: 2, u1: 3
    assert select_owner(team, state, {}, MONDAY_NOON)[0].owner_id == "u0"
    state = owner_changed(state, "u0", "u1")  # u0: 1, u1: 4
    state = record_opened(state, "u0")  # u0: 2
    assert state.member("u0").open_records == 2
    assert select_owner(team, state, {}, MONDAY_NOON)[0].owner_id == "u0"


def test_open_counts_never_go_below_zero() -> None:
    assert record_closed(TeamState(), "u0").member("u0").open_records == 0


def test_priority_tiers_fill_tier_one_first() -> None:
    team = make_team(
        [{"id": "t2", "tier": 2}, {"id": "a", "tier": 1}, {"id": "b", "tier": 1}],
        method="priority_tiers",
    )
    owners, _ = run(team, 4)
    assert owners == ["a", "b", "a", "b"]


def test_priority_tiers_overflow_when_tier_one_is_capped_or_away() -> None:
    team = make_team(
        [
            {"id": "a", "tier": 1, "caps": {"per_day": 2}},
            {"id": "b", "tier": 1, "shifts": {"mon": [{"start": "13:00", "end": "17:00"}]}},
            {"id": "c", "tier": 2},
        ],
        method="priority_tiers",
    )
    owners, _ = run(team, 4)
    assert owners == ["a", "a", "c", "c"]


def test_priority_tiers_use_the_tier_method_inside_a_tier() -> None:
    team = make_team(
        [{"id": "a", "weight": 1}, {"id": "b", "weight": 2}, {"id": "z", "tier": 2}],
        method="priority_tiers",
        tier_method="weighted",
    )
    owners, _ = run(team, 30)
    assert Counter(owners) == {"a": 10, "b": 20}


# -- lookup, related and sticky owners ------------------------------------------------------------


LOOKUP = {"lookup_owner": {"field": "Partner_Rep__c"}, "method": "lookup_owner"}


def test_lookup_owner_takes_the_user_named_by_the_field() -> None:
    facts = {"Partner_Rep__c": "u2"}
    selection, state = select_owner(make_team(3, **LOOKUP), TeamState(), facts, MONDAY_NOON)
    assert (selection.owner_id, selection.method) == ("u2", "lookup_owner")
    assert state.member("u2").assigned_total == 1
    assert state.turn == 0  # not a round-robin turn unless count_as_turn


def test_lookup_owner_counts_as_a_turn_when_configured() -> None:
    rule = {"field": "Partner_Rep__c", "count_as_turn": True}
    team = make_team(3, method="lookup_owner", lookup_owner=rule)
    _, state = select_owner(team, TeamState(), {"Partner_Rep__c": "u0"}, MONDAY_NOON)
    owners, _ = run(team, 2, state=state, method="round_robin")
    assert owners == ["u1", "u2"]


@pytest.mark.parametrize(
    ("facts", "note"),
    [
        ({}, "lookup owner: Partner_Rep__c is empty"),
        ({"Partner_Rep__c": "stranger"}, "skipped: not a member of the team"),
    ],
)
def test_lookup_owner_falls_back_to_the_rules_method(facts: dict[str, Any], note: str) -> None:
    selection, _ = select_owner(make_team(3, **LOOKUP), TeamState(), facts, MONDAY_NOON)
    assert (selection.owner_id, selection.method) == ("u0", "round_robin")
    assert any(note in reason for reason in selection.reasons)
    assert "falling back to round_robin" in selection.reasons


def test_related_owner_falls_back_to_the_teams_own_method_by_default() -> None:
    team = make_team([{"id": "a", "weight": 1}, {"id": "b", "weight": 3}], method="weighted")
    state = TeamState()
    owners = []
    for _ in range(8):
        selection, state = select_owner(team, state, {}, MONDAY_NOON, method="related_owner")
        owners.append(selection.owner_id)
    assert Counter(owners) == {"a": 2, "b": 6}
    assert selection.reasons[-2:] == ["falling back to weighted", selection.reasons[-1]]


def test_lookup_owner_outside_the_team_is_accepted_when_membership_is_not_required() -> None:
    rule = {"field": "Partner_Rep__c", "require_member": False}
    team = make_team(2, method="lookup_owner", lookup_owner=rule)
    selection, state = select_owner(team, TeamState(), {"Partner_Rep__c": "005X"}, MONDAY_NOON)
    assert selection.owner_id == "005X"
    assert state == TeamState()


def test_lookup_owner_hold_fallback_holds_the_record() -> None:
    rule = {"field": "Partner_Rep__c", "fallback": "hold"}
    team = make_team(2, method="lookup_owner", lookup_owner=rule)
    selection, _ = select_owner(
        team, TeamState(), {"Partner_Rep__c": "u1"}, MONDAY_NOON, unavailable={"u1"}
    )
    assert selection.held
    assert selection.reasons[-1] == "held: the rule says hold"
    assert "skipped: toggled unavailable" in selection.reasons[0]


def test_related_owner_is_the_candidate_owner_passed_in() -> None:
    team = make_team(3, method="related_owner")
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON, candidate_owner="u1")
    assert (selection.owner_id, selection.method) == ("u1", "related_owner")


def test_related_owner_reads_the_match_owner_fact_and_matches_15_character_ids() -> None:
    team = make_team([{"id": "005000000000001AAA"}, {"id": "005000000000002AAA"}])
    facts = {"match.owner_id": "005000000000002"}
    selection, _ = select_owner(team, TeamState(), facts, MONDAY_NOON, method="related_owner")
    assert selection.owner_id == "005000000000002AAA"


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([{"id": "a"}, {"id": "b", "active": False}], "inactive"),
        ([{"id": "a"}, {"id": "b", "shifts": {"tue": NINE_TO_FIVE}}], "out of shift"),
        ([{"id": "a"}, {"id": "b", "caps": {"per_day": 0}}], "day cap 0 reached"),
    ],
)
def test_related_owner_falls_back_when_that_user_may_not_take_it(
    members: list[dict[str, Any]], why: str
) -> None:
    team = make_team(members, method="related_owner")
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON, candidate_owner="b")
    assert selection.owner_id == "a"
    assert f"related owner: b (match.owner_id) skipped: {why}" in selection.reasons


STICKY = {"sticky": {"key": "account", "window_days": 30}}


def test_sticky_keeps_the_previous_owner_within_the_window() -> None:
    team = make_team(3, **STICKY)
    previous = PreviousOwner("u2", MONDAY_NOON - timedelta(days=29))
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON, sticky_owner=previous)
    assert (selection.owner_id, selection.method) == ("u2", "sticky")


def test_sticky_outside_the_window_distributes_as_usual() -> None:
    team = make_team(3, **STICKY)
    previous = PreviousOwner("u2", MONDAY_NOON - timedelta(days=31))
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON, sticky_owner=previous)
    assert selection.owner_id == "u0"
    assert "outside the 30-day window" in selection.reasons[0]


def test_sticky_owner_who_is_away_is_skipped() -> None:
    members = [{"id": "a"}, {"id": "b", "out_of_office": [
        {"start": "2024-05-01T00:00:00Z", "end": "2024-05-10T00:00:00Z"}
    ]}]
    team = make_team(members, **STICKY)
    previous = PreviousOwner("b", MONDAY_NOON - timedelta(days=1))
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON, sticky_owner=previous)
    assert selection.owner_id == "a"
    assert selection.reasons[0].startswith("sticky: previous owner b skipped: out of office until")


# -- skills and member filters --------------------------------------------------------------------


LANGUAGES = [
    {"id": "en", "skills": ["English"]},
    {"id": "de", "skills": ["English", "German"]},
    {"id": "fr", "skills": ["French"]},
]


def test_member_skills_must_cover_the_required_skills() -> None:
    team = make_team(LANGUAGES)
    owners, _ = run(team, 3, required_skills=["german", "ENGLISH"])
    assert owners == ["de", "de", "de"]


def test_required_skills_come_from_the_teams_skill_fields() -> None:
    team = make_team(LANGUAGES, skills_from=["Language__c", "tags"])
    selection, _ = select_owner(
        team, TeamState(), {"Language__c": "French", "tags": []}, MONDAY_NOON
    )
    assert selection.owner_id == "fr"
    assert [(s.member_id, s.reason) for s in selection.skipped[:2]] == [
        ("en", "missing skill: french"),
        ("de", "missing skill: french"),
    ]


def test_a_skill_nobody_has_holds_the_record() -> None:
    selection, state = select_owner(
        make_team(LANGUAGES), TeamState(), {}, MONDAY_NOON, required_skills=["Klingon"]
    )
    assert selection.held
    assert selection.skip_counts() == {"missing skill": 3}
    assert selection.next_available_at is None
    assert state == TeamState()


def test_skill_mismatch_keeps_a_members_place_in_turn() -> None:
    team = make_team(LANGUAGES)
    select_german = {"required_skills": ["German"]}
    _, state = run(team, 1, **select_german)
    owners, _ = run(team, 3, state=state)
    assert owners == ["en", "fr", "de"]  # en and fr did not lose their turn to the German record


FILTERED = [
    {"id": "a", "attributes": {"language": "de", "region": "EMEA"}},
    {"id": "b", "attributes": {"language": "fr", "region": "EMEA"}},
    {"id": "c", "attributes": {"region": "AMER"}},
]


@pytest.mark.parametrize(
    ("rule", "facts", "eligible"),
    [
        ({"attribute": "language", "equals_field": "Language__c"}, {"Language__c": "DE"}, {"a"}),
        ({"attribute": "language", "equals_field": "Language__c"}, {}, {"a", "b", "c"}),
        (
            {"attribute": "language", "equals_field": "Language__c", "when_field_missing": "fail"},
            {},
            set(),
        ),
        ({"attribute": "region", "equals": "emea"}, {}, {"a", "b"}),
        ({"attribute": "region", "one_of": ["AMER", "APAC"]}, {}, {"c"}),
    ],
)
def test_member_filters_on_member_attributes(
    rule: dict[str, Any], facts: dict[str, Any], eligible: set[str]
) -> None:
    team = make_team(FILTERED, member_filters=[rule])
    owners, _ = run(team, 6, facts=facts)
    assert set(owners) - {None} == eligible


def test_member_filter_reason_names_the_attribute() -> None:
    rule = {"attribute": "language", "equals_field": "Language__c"}
    team = make_team(FILTERED, member_filters=[rule])
    selection, _ = select_owner(team, TeamState(), {"Language__c": "fr"}, MONDAY_NOON)
    assert selection.skipped[0].reason == "member filter: language is 'de', needs 'fr'"


# -- caps -----------------------------------------------------------------------------------------


def test_day_cap_is_never_exceeded() -> None:
    team = make_team([{"id": "a", "caps": {"per_day": 2}}, {"id": "b", "caps": {"per_day": 1}}])
    owners, state = run(team, 5)
    assert owners == ["a", "b", "a", None, None]
    assert state.member("a").counts == {"d2024-05-06": 2}


def test_drop_past_windows_keeps_only_current_member_local_windows() -> None:
    team = make_team([{"id": "a", "timezone": "Asia/Tokyo", "caps": {"per_day": 5, "per_week": 9}}])
    _, state = run(team, 2)  # Monday 6 May, 21:00 in Tokyo
    assert state.member("a").counts == {"d2024-05-06": 2, "w2024-W19": 2}
    tokyo_tuesday = datetime(2024, 5, 6, 16, tzinfo=UTC)  # 01:00 on 7 May in Tokyo
    tidy = drop_past_windows(team, state, tokyo_tuesday)
    assert tidy.member("a").counts == {"w2024-W19": 2}
    assert drop_past_windows(team, tidy, tokyo_tuesday) is tidy


def test_team_member_caps_apply_to_members_without_their_own() -> None:
    team = make_team(
        [{"id": "a"}, {"id": "b", "caps": {"per_day": 3}}], member_caps={"per_day": 1}
    )
    owners, _ = run(team, 5)
    assert Counter(owners) == {"a": 1, "b": 3, None: 1}


def test_week_and_month_caps_span_days() -> None:
    team = make_team([{"id": "a", "caps": {"per_week": 2}}, {"id": "b", "caps": {"per_month": 3}}])
    owners, _ = run(team, 6, step=timedelta(days=1))  # Monday 6 to Saturday 11 May
    assert owners == ["a", "b", "a", "b", "b", None]


def test_criteria_cap_counts_only_matching_records() -> None:
    team = make_team(
        1, criteria_caps=[{"name": "enterprise", "tag": "enterprise", "per_day": 2}]
    )
    enterprise = {"tags": ["enterprise"]}
    owners, state = run(team, 3, facts=enterprise)
    assert owners == ["u0", "u0", None]
    more, state = run(team, 2, state=state, facts={"tags": ["smb"]})
    assert more == ["u0", "u0"]
    assert state.member("u0").counts == {"enterprise:d2024-05-06": 2}


def test_criteria_cap_on_a_field_value() -> None:
    strategic = ["Enterprise", "Strategic"]
    cap = {"name": "big", "field": "Segment__c", "equals": strategic, "per_day": 1}
    team = make_team(1, criteria_caps=[cap])
    owners, _ = run(team, 3, facts={"Segment__c": "strategic"})
    assert owners == ["u0", None, None]
    selection, _ = select_owner(team, TeamState(), {"Segment__c": "SMB"}, MONDAY_NOON)
    assert selection.owner_id == "u0"


def test_caps_count_in_the_members_local_day() -> None:
    """Per-day cap 1. 14:00 and 15:30 UTC on 6 May are 23:00 and 00:30 in Tokyo (two local days)
    but one day in London; the Tokyo member takes both records, the London member one."""
    tokyo = {"id": "tokyo", "timezone": "Asia/Tokyo", "caps": {"per_day": 1}}
    london = {"id": "london", "timezone": "Europe/London", "caps": {"per_day": 1}}
    first = datetime(2024, 5, 6, 14, tzinfo=UTC)
    tokyo_first = make_team([{**tokyo, "tier": 1}, {**london, "tier": 2}], method="priority_tiers")
    owners, state = run(tokyo_first, 2, now=first, step=timedelta(minutes=90))
    assert owners == ["tokyo", "tokyo"]
    assert state.member("tokyo").counts == {"d2024-05-07": 1}  # the 6 May window was dropped
    london_first = make_team([{**tokyo, "tier": 2}, {**london, "tier": 1}], method="priority_tiers")
    owners, _ = run(london_first, 2, now=first, step=timedelta(minutes=90))
    assert owners == ["london", "tokyo"]


def test_capped_held_record_says_when_the_window_reopens() -> None:
    team = make_team([{"id": "a", "timezone": "America/New_York", "caps": {"per_day": 1}}])
    _, state = run(team, 1)
    selection, _ = select_owner(team, state, {}, MONDAY_NOON)
    assert selection.held
    assert selection.skipped[0].reason == "day cap 1 reached"
    assert selection.next_available_at == datetime(2024, 5, 7, 4, tzinfo=UTC)  # NY midnight


# -- availability inside selection ----------------------------------------------------------------


def test_unavailable_toggle_skips_a_member() -> None:
    owners, _ = run(make_team(3), 4, unavailable={"u1"})
    assert owners == ["u0", "u2", "u0", "u2"]


def test_held_when_nobody_is_in_shift_with_next_available_time() -> None:
    members = [
        {"id": "a", "timezone": "Europe/Berlin", "shifts": {"tue": NINE_TO_FIVE}},
        {"id": "b", "timezone": "America/New_York", "shifts": {"mon": NINE_TO_FIVE}},
    ]
    late = datetime(2024, 5, 6, 22, tzinfo=UTC)  # Mon 18:00 New York, Tue 00:00 Berlin
    selection, state = select_owner(make_team(members), TeamState(), {}, late)
    assert selection.held
    assert selection.skip_counts() == {"out of shift": 2}
    assert selection.next_available_at == datetime(2024, 5, 7, 7, tzinfo=UTC)  # 09:00 Berlin
    assert state == TeamState()


def test_team_closed_day_holds_everything() -> None:
    team = make_team(2, closed_days=["2024-05-06"])
    selection, _ = select_owner(team, TeamState(), {}, MONDAY_NOON)
    assert selection.held
    assert selection.reasons == ["held: team closed on 2024-05-06"]
    assert selection.skip_counts() == {"team closed": 2}
    assert selection.next_available_at == datetime(2024, 5, 7, tzinfo=UTC)


def test_outside_team_hours_holds_until_they_open() -> None:
    team = make_team(2, hours={"mon": NINE_TO_FIVE, "tue": NINE_TO_FIVE})
    selection, _ = select_owner(team, TeamState(), {}, datetime(2024, 5, 6, 18, tzinfo=UTC))
    assert selection.held
    assert selection.next_available_at == datetime(2024, 5, 7, 9, tzinfo=UTC)


def test_holiday_reason_names_the_holiday() -> None:
    members = [{"id": "a", "name": "Ann", "holiday_country": "DE"}, {"id": "b"}]
    selection, _ = select_owner(
        make_team(members), TeamState(), {}, datetime(2024, 12, 25, 12, tzinfo=UTC)
    )
    assert selection.owner_id == "b"
    assert selection.skipped[0].reason == "on holiday 'Christmas Day'"
    assert selection.skipped[0].name == "Ann"


def test_a_member_away_for_a_turn_loses_it_without_backfill() -> None:
    members = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    team = make_team(members)
    owners, state = run(team, 4, unavailable={"b"})  # a c a c
    back, _ = run(team, 6, state=state)
    assert owners == ["a", "c", "a", "c"]
    assert Counter(back) == {"a": 2, "b": 2, "c": 2}


# -- backfill -------------------------------------------------------------------------------------


def _backfill_team(enabled: bool, max_turns: int = 3) -> Team:
    backfill = {"enabled": enabled, "max_catch_up_turns": max_turns}
    return make_team(3, backfill=backfill)


def test_backfill_lets_a_returning_member_catch_up_missed_turns() -> None:
    """A turn is missed each time the rotation reaches the absent member (every other record
    here, with one of three away); on return they take those turns back to back."""
    team = _backfill_team(True, max_turns=5)
    _, state = run(team, 4, unavailable={"u1"})
    assert state.member("u1").missed_turns == 2
    back, state = run(team, 5, state=state)
    assert back == ["u1", "u1", "u0", "u1", "u2"]  # the two it owed, then its own turn
    assert state.member("u1").missed_turns == 0


def test_backfill_is_bounded_by_max_catch_up_turns() -> None:
    team = _backfill_team(True, max_turns=1)
    _, state = run(team, 12, unavailable={"u1"})
    assert state.member("u1").missed_turns == 1
    back, _ = run(team, 3, state=state)
    assert back.count("u1") == 2  # its own turn plus the one it was owed


def test_backfill_does_not_credit_out_of_shift_by_default() -> None:
    members = [{"id": "a"}, {"id": "b", "shifts": {"tue": NINE_TO_FIVE}}]
    team = make_team(members, backfill={"enabled": True})
    _, state = run(team, 4)
    assert state.member("b").missed_turns == 0


def test_backfill_reason_says_so() -> None:
    team = _backfill_team(True)
    _, state = run(team, 4, unavailable={"u1"})
    selection, _ = select_owner(team, state, {}, MONDAY_NOON)
    assert selection.owner_id == "u1"
    assert selection.reasons == [
        "round_robin: backfill, catching up a missed turn (1 still owed)"
    ]


# -- explanations and state -----------------------------------------------------------------------


def test_large_team_summary_counts_reasons_with_the_first_few_names() -> None:
    members = [
        {"id": f"u{i:03d}", "name": f"N{i}", "shifts": {"tue": NINE_TO_FIVE} if i < 40 else None}
        for i in range(100)
    ]
    selection, _ = select_owner(make_team(members), TeamState(), {}, MONDAY_NOON)
    assert selection.owner_id == "u040"
    summary = selection.skip_summary
    assert summary["out of shift"]["count"] == 40
    assert summary["out of shift"]["first"] == [f"N{i} (u{i:03d})" for i in range(5)]
    assert summary["not next in turn"]["count"] == 59
    assert len(selection.skipped) == 40  # only the ones walked past are listed one by one


def test_skipped_list_is_bounded_and_why_not_answers_for_any_member() -> None:
    members = [
        {"id": f"u{i:03d}", "skills": ["fr"] if i < 80 else ["de"]} for i in range(200)
    ]
    selection, _ = select_owner(
        make_team(members), TeamState(), {}, MONDAY_NOON, required_skills=["de"]
    )
    assert selection.owner_id == "u080"
    assert len(selection.skipped) == 50
    assert selection.skip_counts() == {"missing skill": 80, "not next in turn": 119}
    assert selection.why_not("u079") == "missing skill: de"  # beyond the listed fifty
    assert selection.why_not("u150") == "not next in turn"
    assert selection.why_not("u080") is None
    assert selection.why_not("stranger") == "not a member of the team"


def test_state_round_trips_through_json_and_continues_identically() -> None:
    team = make_team(
        [{"id": "a", "weight": 2, "caps": {"per_day": 30}}, {"id": "b"}, {"id": "c", "weight": 3}],
        method="weighted",
        backfill={"enabled": True},
    )
    continuous, _ = run(team, 60, unavailable={"b"}, step=timedelta(hours=1))
    state = TeamState()
    reloaded = []
    for number in range(60):
        blob = state.model_dump(mode="json", exclude_defaults=True)
        state = TeamState.model_validate(blob)
        moment = MONDAY_NOON + timedelta(hours=number)
        selection, state = select_owner(team, state, {}, moment, unavailable={"b"})
        reloaded.append(selection.owner_id)
    assert reloaded == continuous


def test_selection_is_a_value_with_lazy_explanations() -> None:
    selection, _ = select_owner(make_team(2), TeamState(), {}, MONDAY_NOON)
    assert isinstance(selection, Selection)
    assert not selection.held
    assert selection.skip_summary == {"not next in turn": {"count": 1, "first": ["User 1 (u1)"]}}


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        select_owner(make_team(1), TeamState(), {}, datetime(2024, 5, 6, 12))


FULL_TEAM_YAML = """
name: emea-sales
method: round_robin             # round_robin | weighted | load_balancing | priority_tiers
                                # | lookup_owner | related_owner
tier_method: weighted           # method inside a tier when method is priority_tiers
timezone: Europe/Berlin
hours:                          # team distribution hours (team time zone); omit = always
  mon: [{start: "08:00", end: "18:00"}]
  tue: [{start: "08:00", end: "18:00"}]
closed_days: [2024-12-24, 2024-12-31]
holiday_country: DE             # the team is closed on these public holidays
holiday_subdivision: BY
fallback_owner: 005000000000099AAA
hold_max_minutes: 120
skills_from: [Language__c, Product__c]
member_filters:
  - {attribute: language, equals_field: Language__c, when_field_missing: pass}
  - {attribute: region, one_of: [EMEA]}
member_caps: {per_day: 25, per_week: 100}
criteria_caps:
  - {name: enterprise, tag: enterprise, per_day: 5}
  - {name: strategic, field: Segment__c, equals: [Strategic], per_week: 3}
lookup_owner: {field: Partner_Rep__c, require_member: true, fallback: round_robin}
related_owner: {field: match.owner_id, check_availability: true, fallback: hold}
sticky: {key: account, window_days: 30, count_as_turn: false}
backfill: {enabled: true, max_catch_up_turns: 3, credit_reasons: [out of office, on holiday]}
members:
  - id: 005000000000001AAA
    name: Ann Weber
    email: ann@example.com
    timezone: Europe/Berlin
    weight: 2
    tier: 1
    skills: [German, English, CRM]
    attributes: {language: de, region: EMEA}
    shifts:
      mon: [{start: "09:00", end: "12:30"}, {start: "13:30", end: "18:00"}]
      fri: [{start: "09:00", end: "24:00"}]
    out_of_office:
      - {start: "2024-08-01T00:00:00+02:00", end: "2024-08-15T00:00:00+02:00", reason: vacation}
    holiday_country: DE
    holiday_subdivision: BY
    caps: {per_day: 10, per_month: 150}
  - id: 005000000000002AAA
    name: Bo Larsen
    timezone: Europe/Copenhagen
    tier: 2
    active: true
"""


def test_the_documented_full_team_yaml_validates() -> None:
    team = Team.model_validate(yaml.safe_load(FULL_TEAM_YAML))
    assert team.members[0].shifts is not None
    assert team.backfill.max_catch_up_turns == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "lookup_owner", "lookup_owner": None}, "needs a lookup_owner rule"),
        ({"criteria_caps": [{"name": "x", "tag": "a", "per_day": 1}] * 2}, "names must be unique"),
        ({"criteria_caps": [{"name": "x", "tag": "a"}]}, "set per_day, per_week or per_month"),
        ({"criteria_caps": [{"name": "x", "field": "F", "per_day": 1}]}, "field needs equals"),
        ({"member_filters": [{"attribute": "a"}]}, "exactly one of"),
        ({"backfill": {"enabled": True, "credit_reasons": ["bored"]}}, "unknown credit reason"),
        ({"hours": {"someday": []}}, "unknown weekday"),
        ({"members": [{"id": "a"}, {"id": "a"}]}, "listed twice"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_team_configuration_says_what_is_wrong(
    change: dict[str, Any], message: str
) -> None:
    config = {**yaml.safe_load(FULL_TEAM_YAML), **change}
    with pytest.raises(ValidationError, match=message):
        Team.model_validate(config)


def test_copies_of_team_and_state_never_reuse_a_stale_index() -> None:
    """A team copied with other members, or a state copied with other members, is compiled and
    indexed afresh; configuration equality ignores what was compiled."""
    team = make_team(3)
    _, state = run(team, 1)
    smaller = team.model_copy(update={"members": team.members[1:]})
    assert select_owner(smaller, state, {}, MONDAY_NOON)[0].owner_id == "u1"
    assert team == make_team(3)
    rewound = state.model_copy(update={"members": {}})
    assert select_owner(team, rewound, {}, MONDAY_NOON)[0].owner_id == "u0"
