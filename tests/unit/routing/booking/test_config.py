"""The booking section of the org config: validation with error paths, host options resolved to
host requests, smart suggestions per object, the Salesforce Event subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kernel.errors import ConfigError
from routing.booking.choices import choice_problems
from routing.booking.config import BookingSettings, HostOption
from routing.booking.hosts import resolve_host_request
from routing.booking.pools import HostRequest
from routing.booking.suggest import suggest
from routing.config import OrgConfig, parse_config

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "org.yaml"
INBOUND = ["005000000000001AAA", "005000000000002AAA", "005000000000003AAA"]
USER = "005000000000009AAA"
SUBJECT_PROBLEM = (
    "unknown variable {host} (use company, duration_minutes, guest_email, guest_name, host_name, "
    "meeting_type, record_name, scheduler_name)"
)


def org(booking: dict[str, Any]) -> dict[str, Any]:
    return {
        "teams": [
            {"name": "Inbound", "members": [{"id": member} for member in INBOUND]},
            {"name": "EMEA", "members": [{"id": "005000000000004AAA"}]},
        ],
        "booking": booking,
    }


def problems(booking: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(org(booking))
    return caught.value.problems


def booking(**objects: Any) -> dict[str, Any]:
    return {
        "types": [
            {"name": "Intro", "duration_minutes": 30},
            {"name": "Demo", "duration_minutes": 60},
        ],
        "pools": [{"team": "Inbound", "mode": "round_robin", "availability_threshold_slots": 5}],
        "objects": objects,
    }


def example() -> OrgConfig:
    return parse_config(yaml.safe_load(EXAMPLE.read_text()))


def test_the_example_org_has_a_booking_section() -> None:
    settings = example().booking
    assert settings.booking_type("Demo").buffer_before_minutes == 15
    assert settings.pool("Inbound").mode == "round_robin"
    assert settings.for_object("Lead").default_host == HostOption(kind="pool", team="Inbound")
    with pytest.raises(KeyError):
        settings.booking_type("Lunch")


def test_an_org_without_booking_gets_empty_settings() -> None:
    config = parse_config({"teams": [{"name": "Inbound", "members": [{"id": INBOUND[0]}]}]})
    assert config.booking == BookingSettings()


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            {"pools": [{"team": "Sales"}]},
            ("booking.pools[0].team", "unknown team 'Sales'"),
            id="pool of an unknown team",
        ),
        pytest.param(
            {"pools": [{"team": "EMEA"}, {"team": "EMEA"}]},
            ("booking.pools[1].team", "pool 'EMEA' is defined twice"),
            id="pool twice",
        ),
        pytest.param(
            {"types": [{"name": "Intro", "duration_minutes": 30}] * 2},
            ("booking.types[1].name", "type 'Intro' is defined twice"),
            id="type twice",
        ),
        pytest.param(
            booking(Lead={"default_type": "Lunch"}),
            ("booking.objects.Lead.default_type", "unknown booking type 'Lunch'"),
            id="unknown default type",
        ),
        pytest.param(
            booking(Lead={"default_type": "Intro", "allowed_types": ["Demo"]}),
            ("booking.objects.Lead.default_type", "is not one of allowed_types"),
            id="default type not allowed",
        ),
        pytest.param(
            booking(
                Lead={"default_type": "Intro", "default_host": {"kind": "pool", "team": "EMEA"}}
            ),
            (
                "booking.objects.Lead.default_host.team",
                "team 'EMEA' is not a booking pool (add it to pools)",
            ),
            id="default host a team that is no pool",
        ),
        pytest.param(
            booking(Lead={"default_type": "Intro", "pools": ["EMEA"]}),
            ("booking.objects.Lead.pools[0]", "team 'EMEA' is not a booking pool"),
            id="offered pool that is no pool",
        ),
        pytest.param(
            booking(
                Lead={
                    "default_type": "Intro",
                    "suggestions": [
                        {
                            "name": "big",
                            "when": {
                                "field": "NumberOfEmployees",
                                "op": "greater_than",
                                "value": 500,
                            },
                            "meeting_type": "Lunch",
                        }
                    ],
                }
            ),
            ("booking.objects.Lead.suggestions[0].meeting_type", "unknown booking type 'Lunch'"),
            id="suggested type unknown",
        ),
        pytest.param(
            booking(
                Lead={
                    "default_type": "Intro",
                    "host_options": ["pool"],
                    "default_host": {"kind": "pool", "team": "Inbound"},
                    "suggestions": [
                        {
                            "name": "owner",
                            "when": {"field": "Rating", "op": "equals", "value": "Hot"},
                            "host": {"kind": "record_owner"},
                        }
                    ],
                }
            ),
            (
                "booking.objects.Lead.suggestions[0].host.kind",
                "'record_owner' is not in host_options",
            ),
            id="suggested host option not offered",
        ),
        pytest.param(
            {"event_subject": "{meeting_type} with {host}"},
            ("booking.event_subject", SUBJECT_PROBLEM),
            id="unknown subject variable",
        ),
        pytest.param(
            {"types": [{"name": "Workshop", "duration_minutes": 600}]},
            (
                "booking.types[0]",
                "a 600-minute meeting does not fit in the working hours 09:00-17:00",
            ),
            id="meeting longer than the working day",
        ),
        pytest.param(
            {
                "types": [
                    {"name": "Intro", "duration_minutes": 30, "working_days": ["mon", "funday"]}
                ]
            },
            (
                "booking.types[0].working_days[1]",
                "Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
            ),
            id="unknown weekday",
        ),
        pytest.param(
            {"pools": [{"team": "Inbound", "mode": "pooled", "availability_threshold_slots": 3}]},
            ("booking.pools[0]", "availability_threshold_slots applies only to mode round_robin"),
            id="threshold outside round robin",
        ),
        pytest.param(
            {"pools": [{"team": "EMEA", "co_host_declines": "ignore"}]},
            ("booking.pools[0].co_host_declines", "Input should be 'release' or 'replace'"),
            id="unknown co-host decline option",
        ),
        pytest.param(
            booking(Lead={"default_type": "Intro", "default_host": {"kind": "user"}}),
            (
                "booking.objects.Lead.default_host",
                "user_id goes with kind user, and kind user needs a user_id",
            ),
            id="named user without id",
        ),
    ],
)
def test_booking_mistakes_are_reported_with_their_path(
    section: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in problems(section)


# --- host options to host requests --------------------------------------------------------------


def test_a_pool_offers_its_active_members_with_its_mode_and_threshold() -> None:
    data = org(booking())
    data["teams"][0]["members"][1]["active"] = False
    config = parse_config(data)
    request = resolve_host_request(
        HostOption(kind="pool", team="Inbound"), config.booking, config.teams, co_hosts=[INBOUND[2]]
    )
    assert request == HostRequest((INBOUND[0],), "round_robin", (INBOUND[2],), 5)


def test_a_pool_carries_its_members_weights_and_leaves_out_a_member_of_weight_0() -> None:
    data = org(booking())
    data["teams"][0]["members"][0]["weight"] = 3
    data["teams"][0]["members"][1]["weight"] = 0
    config = parse_config(data)
    request = resolve_host_request(HostOption(kind="pool", team="Inbound"), config.booking, config.teams)
    assert request.candidates == (INBOUND[0], INBOUND[2]) and request.weights == {INBOUND[0]: 3}


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (HostOption(kind="user", user_id=USER), USER),
        (HostOption(kind="record_owner"), "005000000000011AAA"),
        (HostOption(kind="account_owner"), "005000000000012AAA"),
    ],
)
def test_one_person_options_become_a_single_host(option: HostOption, expected: str) -> None:
    config = parse_config(org(booking()))
    request = resolve_host_request(
        option,
        config.booking,
        config.teams,
        record_owner_id="005000000000011AAA",
        account_owner_id="005000000000012AAA",
    )
    assert request == HostRequest((expected,), "single")


def test_an_unknown_owner_or_a_team_that_is_no_pool_is_refused_by_name() -> None:
    config = parse_config(org(booking()))
    with pytest.raises(ValueError, match="the matched account's owner is not known"):
        resolve_host_request(HostOption(kind="account_owner"), config.booking, config.teams)
    with pytest.raises(ValueError, match="team 'EMEA' is not a booking pool"):
        resolve_host_request(HostOption(kind="pool", team="EMEA"), config.booking, config.teams)


# --- smart suggestions --------------------------------------------------------------------------


def test_the_first_matching_rule_suggests_and_may_lock_host_and_type() -> None:
    settings = example().booking
    big = suggest(settings, "Lead", {"NumberOfEmployees": 5000, "Country": "DE"})
    assert (big.host, big.host_locked) == (HostOption(kind="pool", team="Enterprise"), False)
    assert (big.meeting_type, big.meeting_type_locked, big.meeting_type_rule) == (
        "Demo",
        True,
        "enterprise demo",
    )


def test_host_and_type_may_come_from_different_rules_and_fall_back_to_the_defaults() -> None:
    settings = example().booking
    german = suggest(settings, "Lead", {"NumberOfEmployees": 20, "Country": "DE"})
    assert (german.host, german.host_rule) == (HostOption(kind="pool", team="EMEA"), "europe")
    assert (german.meeting_type, german.meeting_type_locked, german.meeting_type_rule) == (
        "Discovery",
        False,
        None,
    )
    plain = suggest(settings, "Lead", {"Country": "US"})
    assert (plain.host, plain.host_locked, plain.host_rule) == (
        HostOption(kind="pool", team="Inbound"),
        False,
        None,
    )


def test_a_locked_host_suggestion() -> None:
    settings = example().booking
    customer = suggest(settings, "Contact", {"Account.Type": "Customer"})
    assert (customer.host, customer.host_locked) == (HostOption(kind="account_owner"), True)


def test_rules_that_read_the_clock_need_now() -> None:
    data = org(
        booking(
            Lead={
                "default_type": "Intro",
                "suggestions": [
                    {
                        "name": "fresh",
                        "when": {"field": "CreatedDate", "op": "within_last_days", "value": 2},
                        "meeting_type": "Demo",
                    }
                ],
            }
        )
    )
    settings = parse_config(data).booking
    fields = {"CreatedDate": "2026-11-22T10:00:00Z"}
    with pytest.raises(ValueError, match="uses within_last_days: pass now"):
        suggest(settings, "Lead", fields)
    assert (
        suggest(settings, "Lead", fields, now=datetime(2026, 11, 23, tzinfo=UTC)).meeting_type
        == "Demo"
    )
    assert (
        suggest(settings, "Lead", fields, now=datetime(2026, 12, 23, tzinfo=UTC)).meeting_type
        == "Intro"
    )


def test_an_object_without_booking_settings_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        suggest(example().booking, "Case", {})


# --- the Salesforce Event -------------------------------------------------------------------------


def test_the_event_subject_fills_the_template_and_leaves_missing_variables_empty() -> None:
    settings = example().booking
    subject = settings.subject(
        meeting_type="Demo", guest_name="Ada", host_name="Alan", scheduler_name="Grace"
    )
    assert subject == "Demo: Ada with Alan (booked by Grace)"
    assert settings.subject(meeting_type="Demo") == "Demo:  with  (booked by )"


def test_the_event_points_at_people_with_who_and_at_other_records_with_what() -> None:
    settings = example().booking
    assert settings.for_object("Lead").relation_field("Lead") == "WhoId"
    assert settings.for_object("Lead").relation_field("Opportunity") == "WhatId"


def test_the_readme_booking_example_is_valid_with_the_example_teams() -> None:
    readme = (EXAMPLE.parents[1] / "docs" / "configuration.md").read_text()
    blocks = [
        b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if b.startswith("booking:")
    ]
    assert blocks
    data = yaml.safe_load(EXAMPLE.read_text())
    for block in blocks:
        data["booking"] = yaml.safe_load(block)["booking"]
        assert parse_config(data).booking.for_object("Lead").suggestions[0].lock_host


# --- the scheduler's choice ----------------------------------------------------------------------


def test_a_choice_within_the_suggestion_and_the_objects_offer_passes() -> None:
    settings = example().booking
    plain = suggest(settings, "Lead", {"Country": "US"})
    assert (
        choice_problems(settings, "Lead", plain, HostOption(kind="pool", team="EMEA"), "Demo") == []
    )
    assert (
        choice_problems(settings, "Lead", plain, HostOption(kind="user", user_id=USER), "Discovery")
        == []
    )


@pytest.mark.parametrize(
    ("object_type", "fields", "host", "meeting_type", "expected"),
    [
        (
            "Contact",
            {"Account.Type": "Customer"},
            HostOption(kind="record_owner"),
            "Discovery",
            [("host", "is locked to account owner for this record")],
        ),
        (
            "Lead",
            {"NumberOfEmployees": 5000},
            HostOption(kind="pool", team="Enterprise"),
            "Discovery",
            [("meeting_type", "is locked to 'Demo' for this record")],
        ),
        (
            "Contact",
            {},
            HostOption(kind="pool", team="Inbound"),
            "Lunch",
            [
                ("host", "pool is not offered for Contact"),
                ("meeting_type", "unknown meeting type 'Lunch'"),
            ],
        ),
        (
            "Lead",
            {},
            HostOption(kind="pool", team="Nobody"),
            "Demo",
            [("host", "team 'Nobody' is not a booking pool")],
        ),
        (
            "Case",
            {},
            HostOption(kind="record_owner"),
            "Demo",
            [("object_type", "Case has no booking settings")],
        ),
    ],
)
def test_a_choice_against_a_lock_or_outside_the_offer_is_refused_by_field(
    object_type: str,
    fields: dict[str, Any],
    host: HostOption,
    meeting_type: str,
    expected: list[tuple[str, str]],
) -> None:
    settings = example().booking
    suggestion = (
        suggest(settings, object_type, fields)
        if object_type != "Case"
        else suggest(settings, "Lead", {})
    )
    assert choice_problems(settings, object_type, suggestion, host, meeting_type) == expected
