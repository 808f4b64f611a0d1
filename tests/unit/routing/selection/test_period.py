"""Fairness over time in record routing: reset periods on the team's clock, calibration (members
away or new are credited with their share instead of catching up in a burst) and the lead
threshold. Scenarios run over several simulated weeks on a frozen clock (each decision is given
its instant); the property test is the one the issue states."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.errors import ConfigError
from routing.availability import availability
from routing.config import parse_config
from routing.selection import TeamState, select_owner
from routing.selection.period import period_key, standings
from routing.selection.roster import fair_strides
from routing.teams import Fairness, Team
from tests.support.fairness_strategies import ABSENCES, RESETS, STEPS, WEIGHTS

MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def team_of(members: list[dict[str, Any]], **fields: Any) -> Team:
    return Team.model_validate({"name": "Inbound", "members": members, **fields})


def route(team: Team, state: TeamState, start: datetime, records: int, step: timedelta = HOUR,
          unavailable: frozenset[str] = frozenset(),
          meetings: dict[str, int] | None = None) -> tuple[list[str | None], TeamState]:
    owners: list[str | None] = []
    for number in range(records):
        selection, state = select_owner(team, state, {}, start + number * step, unavailable=unavailable,
                                        meetings=meetings)
        owners.append(selection.owner_id)
    return owners, state


def standing(team: Team, state: TeamState, member_id: str) -> tuple[int, Fraction, Fraction]:
    found = next(s for s in standings(team, state) if s.member_id == member_id)
    return found.count, found.credit, found.target


def test_a_member_back_from_a_week_away_gets_a_fair_share_without_a_burst() -> None:
    away = {"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-09T00:00:00+00:00"}
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo", "out_of_office": [away]}],
                   fairness={"reset": "month", "balance": "calibration"})
    first_week, state = route(team, TeamState(), MONDAY.replace(hour=0), 7 * 24)
    assert Counter(first_week) == {"ana": 84, "ben": 84}
    count, credit, target = standing(team, state, "cleo")
    # Credited each time she was passed over (up to the owner's load, plus the turn she lost): the
    # share she would have had.
    assert (count, credit, target) == (0, 84, 84)
    back, state = route(team, state, datetime(2026, 11, 9, tzinfo=UTC), 30)
    assert Counter(back[:3])["cleo"] == 1  # one turn in three, not a run of 84
    assert Counter(back) == {"ana": 10, "ben": 10, "cleo": 10}
    assert "credited" in select_owner(team, state, {}, datetime(2026, 11, 10, tzinfo=UTC))[0].reasons[-1]


def test_without_calibration_the_period_counts_show_the_same_member_behind() -> None:
    away = {"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-09T00:00:00+00:00"}
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo", "out_of_office": [away]}],
                   fairness={"reset": "month"})
    _, state = route(team, TeamState(), MONDAY.replace(hour=0), 7 * 24)
    assert standing(team, state, "cleo")[:2] == (0, 0)


def test_a_new_hire_is_calibrated_to_the_share_they_would_have_had() -> None:
    members = [{"id": "ana"}, {"id": "ben", "weight": 2}]
    fairness = {"reset": "week", "balance": "calibration"}
    team = team_of(members, method="weighted", fairness=fairness)
    _, state = route(team, TeamState(), MONDAY, 30)
    grown = team_of([*members, {"id": "dana", "weight": 2}], method="weighted", fairness=fairness)
    later = MONDAY + 30 * HOUR
    owners, state = route(grown, state, later, 50)
    assert Counter(owners[:5])["dana"] <= 2  # her weighted share of five, not a catch-up run
    assert Counter(owners) == {"ana": 10, "ben": 20, "dana": 20}
    count, credit, target = standing(grown, state, "dana")
    # She joined at the team's level (the last pick's load: ben's 19 records before his 20th) ...
    assert (count, credit) == (20, 19)
    assert abs(count + credit - target) < 1  # ... so her records plus credit are her weighted share


def test_the_month_resets_on_the_teams_own_clock() -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}], timezone="America/New_York",
                   fairness={"reset": "month", "balance": "calibration"})
    _, state = route(team, TeamState(), datetime(2026, 11, 25, tzinfo=UTC), 9, step=timedelta(days=1) / 2)
    # 2026-12-01 04:30 UTC is still 30 November in New York: the November period goes on.
    _, state = route(team, state, datetime(2026, 12, 1, 4, 30, tzinfo=UTC), 1)
    assert state.period == "m2026-11" and sum(s.count for s in standings(team, state)) == 10
    _, state = route(team, state, datetime(2026, 12, 1, 5, 30, tzinfo=UTC), 1)
    assert state.period == "m2026-12"
    assert sorted((s.count, s.credit) for s in standings(team, state)) == [(0, 0), (1, 0)]


@pytest.mark.parametrize(
    ("reset", "expected"),
    [("day", "d2026-11-30"), ("week", "w2026-W49"), ("month", "m2026-11"), (None, "all")],
)
def test_period_keys_are_read_on_the_teams_clock(reset: str | None, expected: str) -> None:
    # Tuesday 1 December 02:00 in Berlin is still Monday 30 November in Los Angeles.
    now = datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert period_key(Fairness(reset=reset), "America/Los_Angeles", now) == expected


def test_the_lead_threshold_hides_a_member_and_restores_them_when_the_others_catch_up() -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo"}], fairness={"lead_threshold": 1})
    # cleo is toggled off for six records: ana and ben take three each.
    owners, state = route(team, TeamState(), MONDAY, 6, unavailable=frozenset({"cleo"}))
    assert Counter(owners) == {"ana": 3, "ben": 3}
    selection, _ = select_owner(team, state, {}, MONDAY + 6 * HOUR)
    assert selection.owner_id == "cleo"
    assert selection.why_not("ana") == (
        "lead threshold: 3 records ahead of the least-loaded eligible member (threshold 1)"
    )
    back, state = route(team, state, MONDAY + 6 * HOUR, 3)
    # ana and ben are hidden while more than one record ahead of cleo: she takes two in a row.
    assert back == ["cleo", "cleo", "ana"]
    again, _ = route(team, state, MONDAY + 9 * HOUR, 6)
    assert Counter(again) == {"ana": 2, "ben": 2, "cleo": 2}  # restored: everyone in turn


def test_the_lead_threshold_counts_only_members_who_may_take_the_record() -> None:
    """A member out of shift is not the least-loaded *eligible* member: nobody is held back for them."""
    team = team_of(
        [{"id": "ana"}, {"id": "ben"}, {"id": "cleo", "shifts": {"sat": [{"start": "09:00", "end": "10:00"}]}}],
        fairness={"lead_threshold": 1},
    )
    owners, _ = route(team, TeamState(), MONDAY, 10)
    assert Counter(owners) == {"ana": 5, "ben": 5}


def test_a_member_back_from_out_of_office_is_the_least_loaded_at_once_though_last_in_turn() -> None:
    """Back at 19:00 with nothing this period: the others are hidden from the first record on."""
    away = {"start": MONDAY.isoformat(), "end": (MONDAY + 10 * HOUR).isoformat()}
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo", "out_of_office": [away]}],
                   fairness={"lead_threshold": 0})
    owners, state = route(team, TeamState(), MONDAY, 10)
    assert Counter(owners) == {"ana": 5, "ben": 5}
    selection, _ = select_owner(team, state, {}, MONDAY + 10 * HOUR)
    assert selection.owner_id == "cleo"
    assert selection.why_not("ana") == (
        "lead threshold: 5 records ahead of the least-loaded eligible member (threshold 0)"
    )


def test_calibration_and_backfill_exclude_each_other_and_fairness_keys_are_strict() -> None:
    base = {"teams": [{"name": "Inbound", "members": [{"id": "005000000000001AAA"}]}]}
    both = {"teams": [{**base["teams"][0], "backfill": {"enabled": True},
                       "fairness": {"balance": "calibration"}}]}
    with pytest.raises(ConfigError, match="calibration and backfill.enabled exclude each other"):
        parse_config(both)
    unknown = {"teams": [{**base["teams"][0], "fairness": {"reset": "week", "resets": "day"}}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(unknown)
    assert ("teams[0].fairness.resets", "unknown key") in caught.value.problems
    wrong = {"teams": [{**base["teams"][0], "fairness": {"reset": "year"}}]}
    with pytest.raises(ConfigError, match="teams\\[0\\].fairness.reset"):
        parse_config(wrong)


def test_a_state_saved_and_loaded_between_decisions_decides_the_same() -> None:
    away = {"start": "2026-11-03T00:00:00+00:00", "end": "2026-11-05T00:00:00+00:00"}
    team = team_of([{"id": "ana", "weight": 3}, {"id": "ben", "out_of_office": [away]}, {"id": "cleo"}],
                   method="weighted", fairness={"reset": "week", "balance": "calibration"})
    carried, state = TeamState(), TeamState()
    for number in range(200):
        now = MONDAY + number * HOUR
        kept, carried = select_owner(team, carried, {}, now)
        reloaded, state = select_owner(team, TeamState.model_validate(
            state.model_dump(mode="json", exclude_defaults=True)), {}, now)
        assert kept.owner_id == reloaded.owner_id
    assert carried == state


@settings(max_examples=60, deadline=None)
@given(weights=WEIGHTS, absences=ABSENCES, steps=STEPS, reset=RESETS,
       method=st.sampled_from(["round_robin", "weighted"]))
def test_calibrated_members_eligible_all_period_stay_within_one_of_their_weighted_target(
    weights: list[int], absences: list[list[tuple[int, int]]], steps: list[int], reset: str, method: str,
) -> None:
    """With calibration on, among members eligible the whole time and counting distribution-method
    assignments only, no member's running total within one reset period exceeds its weighted target
    (``(all assignments + credits) × weight ÷ total weight``) by more than one."""
    members = []
    for number, weight in enumerate(weights):
        spans = [{"start": (MONDAY + start * HOUR).isoformat(), "end": (MONDAY + (start + hours) * HOUR).isoformat()}
                 for start, hours in absences[number]]
        members.append({"id": f"u{number}", "weight": weight, "out_of_office": spans})
    team = team_of(members, method=method, timezone="Europe/Berlin",
                   fairness={"reset": reset, "balance": "calibration"})
    state = TeamState()
    now = MONDAY
    period = ""
    always: set[str] = set()
    for step in steps:
        now += step * HOUR
        key = period_key(team.fairness, team.timezone, now)
        if key != period:
            period, always = key, {member.id for member in team.members}
        always -= {m.id for m in team.members if not availability(m, now, team=team).available}
        selection, state = select_owner(team, state, {}, now)
        for found in standings(team, state):
            if found.member_id in always:
                assert found.count <= found.target + 1, (found, selection.reasons)


SHORT_AWAY_SPANS = st.lists(  # within the first 70 hours
    st.tuples(st.integers(min_value=0, max_value=50), st.integers(min_value=1, max_value=20)), max_size=2
)


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=7),
    absences=st.lists(SHORT_AWAY_SPANS, min_size=7, max_size=7),
    records=st.lists(st.tuples(st.sampled_from([None, "de", "fr"]), st.frozensets(st.integers(0, 6), max_size=3)),
                     min_size=1, max_size=60),
    threshold=st.integers(min_value=0, max_value=2),
    method=st.sampled_from(["round_robin", "weighted"]),
)
def test_the_lead_threshold_measures_from_the_least_loaded_member_who_may_take_the_record(
    weights: list[int], absences: list[list[tuple[int, int]]], records: list[tuple[str | None, frozenset[int]]],
    threshold: int, method: str,
) -> None:
    """The owner is at most ``threshold`` of their own records ahead of the least-loaded member who may take
    the record (skills, toggle, out of office), and every member hidden by the threshold is more than that ahead,
    by exactly what the reason says."""
    members = [{"id": f"u{number}", "weight": weight, "skills": ["de"] * (number % 2) + ["fr"] * (number % 3 == 0),
                "out_of_office": [{"start": (MONDAY + start * HOUR).isoformat(),
                                   "end": (MONDAY + (start + hours) * HOUR).isoformat()}
                                  for start, hours in absences[number]]}
               for number, weight in enumerate(weights)]
    team = team_of(members, method=method, fairness={"lead_threshold": threshold})
    strides = dict(zip((m["id"] for m in members), fair_strides(team), strict=True))
    state = TeamState()
    for number, (language, toggled) in enumerate(records):
        now = MONDAY + number * HOUR
        off = frozenset(f"u{index}" for index in toggled)
        required = [language] if language else []
        loads = {member.id: state.member(member.id).period_load for member in team.members}
        free = [member.id for member in team.members if member.id not in off and set(required) <= set(member.skills)
                and availability(member, now, team=team).available]
        selection, state = select_owner(team, state, {}, now, required_skills=required, unavailable=off)
        assert (selection.owner_id is not None) == bool(free)
        if not free:
            continue
        floor = min(loads[member_id] for member_id in free)
        owner = selection.owner_id
        assert owner is not None and loads[owner] - floor <= threshold * strides[owner]
        for member_id in free:
            ahead = Fraction(loads[member_id] - floor, strides[member_id])
            if selection.why_not(member_id) == "not next in turn" or member_id == owner:
                continue
            assert ahead > threshold
            assert selection.why_not(member_id) == (
                f"lead threshold: {float(ahead):g} records ahead of the least-loaded eligible member "
                f"(threshold {threshold})")


def _counts(team: Team, state: TeamState) -> dict[str, int]:
    return {found.member_id: found.count for found in standings(team, state)}


@pytest.mark.parametrize(("count_by", "expected"), [("created", {"ana": 1, "ben": 1}),
                                                     ("assigned", {"ana": 3, "ben": 3})])
def test_counting_by_created_date_leaves_records_created_in_an_earlier_period_out(
    count_by: str, expected: dict[str, int]
) -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}], fairness={"reset": "week", "count_by": count_by})
    monday = datetime(2026, 11, 9, 9, tzinfo=UTC)
    last_week = {"CreatedDate": "2026-11-06T16:00:00.000+0000"}  # routed late, after the weekend
    this_week = {"CreatedDate": "2026-11-09T08:30:00Z"}
    state = TeamState()
    owners = []
    for number, facts in enumerate([last_week] * 4 + [this_week] * 2):
        selection, state = select_owner(team, state, facts, monday + number * timedelta(minutes=1))
        owners.append(selection.owner_id)
    assert owners == ["ana", "ben"] * 3  # the turn moves on either way
    assert _counts(team, state) == expected


def test_under_calibration_records_from_an_earlier_period_are_spread_but_not_counted() -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}],
                   fairness={"reset": "week", "count_by": "created", "balance": "calibration"})
    state = TeamState()
    owners = []
    for number in range(6):
        facts = {"CreatedDate": "2026-11-06T16:00:00Z"}
        selection, state = select_owner(team, state, facts, datetime(2026, 11, 9, 9, number, tzinfo=UTC))
        owners.append(selection.owner_id)
    assert Counter(owners) == {"ana": 3, "ben": 3}
    assert _counts(team, state) == {"ana": 0, "ben": 0}


def test_a_record_without_a_readable_created_date_counts_when_assigned() -> None:
    team = team_of([{"id": "ana"}], fairness={"reset": "day", "count_by": "created"})
    state = TeamState()
    for facts in ({}, {"CreatedDate": "not a date"}, {"CreatedDate": 1_762_675_200_000}):  # ms: 9 Nov 2025
        state = select_owner(team, state, facts, datetime(2026, 11, 9, 9, tzinfo=UTC))[1]
    assert _counts(team, state) == {"ana": 2}


def test_count_by_takes_only_assigned_or_created() -> None:
    with pytest.raises(ValueError, match="count_by"):
        Fairness.model_validate({"reset": "week", "count_by": "closed"})


# -- teams counting meetings --------------------------------------------------------------------------


def test_counting_meetings_the_fewest_meetings_get_the_record_and_records_add_to_no_count() -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo"}], fairness={"counts": "meetings", "reset": "week"})
    owners, state = route(team, TeamState(), MONDAY, 3, meetings={"ana": 2, "ben": 1})
    assert owners == ["cleo"] * 3  # until she hosts a meeting, a records team would have rotated
    assert {s.member_id: s.count for s in standings(team, state)} == {"ana": 2, "ben": 1, "cleo": 0}
    # Equal meetings: the turn decides (ben has had none, cleo three).
    owners, state = route(team, state, MONDAY + 3 * HOUR, 4, meetings={"ana": 2, "ben": 1, "cleo": 1})
    assert owners == ["ben", "cleo", "ben", "cleo"]
    selection, _ = select_owner(team, state, {}, MONDAY + 8 * HOUR, meetings={"ana": 0, "ben": 1, "cleo": 1})
    assert selection.owner_id == "ana"
    assert selection.reasons[-1] == "round_robin: fewest meetings for their weight this period (0 hosted)"


def test_counting_meetings_weights_divide_the_meetings() -> None:
    team = team_of([{"id": "ana", "weight": 3}, {"id": "ben"}], method="weighted",
                   fairness={"counts": "meetings", "reset": "month"})
    owners, _ = route(team, TeamState(), MONDAY, 2, meetings={"ana": 5, "ben": 2})
    assert owners == ["ana", "ana"]  # 5 meetings for weight 3 is fewer per weight than 2 for weight 1


def test_counting_meetings_a_member_back_from_away_is_calibrated_in_meetings() -> None:
    away = {"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-03T00:00:00+00:00"}
    team = team_of([{"id": "ana"}, {"id": "ben"}, {"id": "cleo", "out_of_office": [away]}],
                   fairness={"counts": "meetings", "reset": "month", "balance": "calibration"})
    hosted = {"ana": 3, "ben": 3}
    first, state = route(team, TeamState(), MONDAY, 2, meetings=hosted)
    assert sorted(first) == ["ana", "ben"]  # type: ignore[type-var]
    # Passed over while away, cleo was credited up to the level of the member chosen instead.
    assert standing(team, state, "cleo")[:2] == (0, 3)
    reasons: dict[str | None, str] = {}
    for number in range(3):
        selection, state = select_owner(team, state, {}, MONDAY + timedelta(days=1, hours=number), meetings=hosted)
        reasons[selection.owner_id] = selection.reasons[-1]
    assert set(reasons) == {"ana", "ben", "cleo"}  # one each, not three in a row for her 0 meetings
    assert reasons["cleo"].endswith("least loaded for their weight this period (0 meetings + 3 credited)")


def test_counting_meetings_the_lead_threshold_measures_meetings() -> None:
    team = team_of([{"id": "ana"}, {"id": "ben"}], method="load_balancing",
                   fairness={"counts": "meetings", "reset": "week", "lead_threshold": 1})
    selection, _ = select_owner(team, TeamState(), {}, MONDAY, meetings={"ana": 3, "ben": 1})
    assert selection.owner_id == "ben"
    assert selection.why_not("ana") == (
        "lead threshold: 2 meetings ahead of the least-loaded eligible member (threshold 1)"
    )


def test_counting_meetings_needs_a_reset_and_a_meeting_count_by() -> None:
    def team_with(fairness: dict[str, Any]) -> dict[str, Any]:
        return {"teams": [{"name": "Inbound", "members": [{"id": "005000000000001AAA"}], "fairness": fairness}]}

    with pytest.raises(ConfigError, match=r"teams\[0\]\.fairness: counts meetings needs a reset \(day, week or month\)"):
        parse_config(team_with({"counts": "meetings"}))
    with pytest.raises(ConfigError, match=r"count_by created does not apply when counting meetings \(use booked or meeting_time\)"):
        parse_config(team_with({"counts": "meetings", "reset": "week", "count_by": "created"}))
    with pytest.raises(ConfigError, match=r"count_by meeting_time does not apply when counting records"):
        parse_config(team_with({"reset": "week", "count_by": "meeting_time"}))
    assert Fairness(counts="meetings", reset="day").counted_by == "booked"
    assert Fairness(reset="day").counted_by == "assigned"
