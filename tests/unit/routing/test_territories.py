"""Territories: rule kinds, postal codes, overlaps, fallback, validation, index versus scan."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.territories import (
    KIND_WEIGHTS,
    IntervalTree,
    PostalCode,
    PostalPrefix,
    PostalRange,
    Territory,
    TerritoryIndex,
    TerritorySet,
    WholeCode,
    parse_postal_rule,
    referenced_teams,
)


def territory(name: str, team: str = "Team", **rules: Any) -> dict[str, Any]:
    return {"name": name, "team": team, **rules}


def winner(territories: list[dict[str, Any]], facts: dict[str, Any]) -> str | None:
    return TerritoryIndex.build(territories).match(facts).territory


# --- postal code rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("SW1*", PostalPrefix("SW1")),
        ("sw1a 1*", PostalPrefix("SW1A1")),
        ("941", PostalPrefix("941")),
        ("94105", PostalPrefix("94105")),
        ("10000-14999", PostalRange(10000, 14999, 5)),
        ("01000 - 01999", PostalRange(1000, 1999, 5)),
        ("SW1A", WholeCode("SW1A")),
        ("sw1a 1aa", WholeCode("SW1A1AA")),
        ("K1A 0B1", WholeCode("K1A0B1")),
    ],
    ids=lambda value: str(value),
)
def test_postal_rules_are_parsed_by_their_shape(text: str, rule: object) -> None:
    assert parse_postal_rule(text) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("14999-10000", "start is after the end"),
        ("1000-99999", "same number of digits"),
        ("*", "characters before"),
        ("S*W1", "may only end"),
        ("   ", "empty"),
    ],
)
def test_bad_postal_rules_are_rejected_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_postal_rule(text)


@pytest.mark.parametrize(
    ("code", "matches"),
    [
        ("10000", True),  # first
        ("14999", True),  # last
        ("09999", False),  # one below
        ("15000", False),  # one above
        ("12345-6789", True),  # ZIP+4 compares its five leading digits
        ("1000", False),  # shorter code, not the same length
        ("100000", False),  # longer code
        ("ABCDE", False),
    ],
)
def test_postal_range_edges(code: str, matches: bool) -> None:
    territories = [territory("Range", postal_codes=["10000-14999"])]
    assert (winner(territories, {"PostalCode": code}) == "Range") is matches


@pytest.mark.parametrize(
    ("rule", "code", "matches"),
    [
        ("SW1A", "SW1A 1AA", True),
        ("SW1A", "sw1a1aa", True),  # UK code written without its space
        ("SW1A", "SW1 1AA", False),
        ("SW1A", "SW19 1AA", False),
        ("SW1", "SW1A 1AA", False),  # an outward code is not a prefix
        ("SW1*", "SW1A 1AA", True),
        ("SW1*", "SW19 2AB", True),
        ("SW1A 1AA", "sw1a  1aa", True),
        ("SW1A 1AA", "SW1A 1AB", False),
        ("M1", "M1 1AE", True),
        ("K1A", "K1A0B1", True),  # Canadian forward sortation area
        ("941", "94105", True),
        ("941", "94205", False),
        ("94105", "94105-1234", True),
    ],
)
def test_postal_codes_whole_outward_and_prefix(rule: str, code: str, matches: bool) -> None:
    territories = [territory("Postal", postal_codes=[rule])]
    assert (winner(territories, {"PostalCode": code}) == "Postal") is matches


@given(
    width=st.integers(min_value=3, max_value=6),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_a_range_takes_exactly_the_equal_length_codes_between_its_ends(
    width: int, data: st.DataObject
) -> None:
    top = 10**width - 1
    low = data.draw(st.integers(0, top), label="low")
    high = data.draw(st.integers(low, top), label="high")
    code = data.draw(st.integers(0, top), label="code")
    rule = parse_postal_rule(f"{low:0{width}d}-{high:0{width}d}")
    parsed = PostalCode.parse(f"{code:0{width}d}")
    assert parsed is not None
    assert rule.matches(parsed) is (low <= code <= high)


# --- countries, states, cities, fields, accounts --------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        {"Country": "Germany"},
        {"Country": "Deutschland"},
        {"Country": "de"},
        {"Country": "DEU"},
        {"CountryCode": "DE"},
        {"derived.country": "DE", "Country": "somewhere"},
        {"BillingCountry": "Germany"},
        {"MailingCountry": " germany "},
    ],
)
def test_countries_written_as_names_or_codes_match(facts: dict[str, Any]) -> None:
    territories = [territory("DACH", countries=["Germany", "AT", "Switzerland"])]
    assert winner(territories, facts) == "DACH"


@pytest.mark.parametrize(
    ("facts", "matches"),
    [
        ({"Country": "US", "State": "California"}, True),
        ({"Country": "United States", "State": "ca"}, True),
        ({"Country": "US", "StateCode": "CA"}, True),
        ({"Country": "US", "State": "NY"}, True),
        ({"Country": "US", "State": "Nevada"}, False),
        ({"Country": "Canada", "State": "Ontario"}, False),
        ({"Country": "US"}, False),
    ],
)
def test_states_match_by_code_or_name(facts: dict[str, Any], matches: bool) -> None:
    territories = [territory("CA+NY", countries=["US"], states=["CA", "New York"])]
    assert (winner(territories, facts) == "CA+NY") is matches


def test_a_full_subdivision_code_needs_no_country_rule() -> None:
    territories = [territory("Bavaria", states=["DE-BY"])]
    assert winner(territories, {"Country": "Germany", "State": "Bayern"}) == "Bavaria"
    assert winner(territories, {"Country": "Germany", "State": "BY"}) == "Bavaria"
    assert winner(territories, {"Country": "Austria", "State": "BY"}) is None


@pytest.mark.parametrize("city", ["München", "MÜNCHEN", "munchen", "  Munchen "])
def test_cities_ignore_case_and_accents(city: str) -> None:
    assert winner([territory("Munich", cities=["München"])], {"City": city}) == "Munich"


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("Banking", True),
        ("insurance", True),
        ("Retail;Banking", True),  # multi-select picklist
        (["Retail", "Insurance"], True),
        ("Retail", False),
        (None, False),
    ],
)
def test_field_rules_match_any_listed_value(value: Any, matches: bool) -> None:
    territories = [territory("FSI", fields={"Industry": ["Banking", "Insurance"]})]
    assert (winner(territories, {"Industry": value}) == "FSI") is matches


@pytest.mark.parametrize(
    ("facts", "matches"),
    [
        ({"match.account_id": "001000000000001AAA"}, True),  # 18-character form of the id
        ({"AccountId": "001000000000001"}, True),
        ({"match.object": "Account", "match.record_id": "001000000000001"}, True),
        ({"Company": "ACME, Inc."}, True),
        ({"Id": "001000000000009", "Name": "Acme Corporation"}, True),
        ({"Company": "Acme Widgets"}, False),
        ({"match.account_id": "001000000000002"}, False),
    ],
)
def test_named_accounts_match_by_id_or_name(facts: dict[str, Any], matches: bool) -> None:
    territories = [territory("Named", accounts=["001000000000001", "Acme Corp"])]
    assert (winner(territories, facts) == "Named") is matches


@pytest.mark.parametrize(
    ("facts", "matches"),
    [
        ({"Country": "US", "State": "NY", "Industry": "Banking"}, True),
        ({"Country": "US", "State": "CA", "Industry": "Insurance"}, True),
        ({"Country": "US", "State": "CA", "Industry": "Retail"}, False),
        ({"Country": "DE", "State": "CA", "Industry": "Banking"}, False),
    ],
)
def test_every_listed_kind_must_match_and_any_value_within_it(
    facts: dict[str, Any], matches: bool
) -> None:
    territories = [
        territory(
            "East FSI",
            countries=["US"],
            states=["NY", "CA"],
            fields={"Industry": ["Banking", "Insurance"]},
        )
    ]
    assert (winner(territories, facts) == "East FSI") is matches


def test_the_first_filled_address_is_used_whole() -> None:
    territories = [
        territory("Berlin", countries=["DE"], cities=["Berlin"]),
        territory("Paris", countries=["FR"], cities=["Paris"]),
    ]
    facts = {
        "BillingCountry": "France",
        "BillingCity": "Paris",
        "MailingCountry": "Germany",
        "MailingCity": "Berlin",
    }
    assert winner(territories, facts) == "Paris"


# --- overlaps -------------------------------------------------------------------------------------

OVERLAPPING = [
    territory("Country", countries=["US"]),
    territory("State", countries=["US"], states=["CA"]),
    territory("Prefix", postal_codes=["941*"]),
    territory("Zip", postal_codes=["94105"]),
    territory("Range", postal_codes=["94100-94199"]),
]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"Country": "US", "State": "TX"}, "Country"),
        ({"Country": "US", "State": "CA", "PostalCode": "90001"}, "State"),
        ({"Country": "US", "State": "CA", "PostalCode": "94110"}, "Prefix"),  # 3.0 = 3.0: name
        ({"Country": "US", "State": "CA", "PostalCode": "94105"}, "Zip"),
        ({"Country": "US", "State": "CA", "PostalCode": "94200"}, "State"),
    ],
    ids=["country", "state beats country", "equal precision: name", "longest code", "outside"],
)
def test_the_most_specific_territory_wins_at_equal_priority(
    facts: dict[str, Any], expected: str
) -> None:
    assert winner(OVERLAPPING, facts) == expected


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (["941*", "94100-94109"], "B"),  # ten codes pin 4 digits, the prefix 3
        (["9410*", "94100-94199"], "A"),
        (["94105", "9410*"], "A"),
        (["SW1A 1AA", "SW1A"], "A"),  # whole code beats its outward code
        (["SW1A", "SW1*"], "A"),
    ],
)
def test_the_more_precise_postal_rule_wins(rules: list[str], expected: str) -> None:
    territories = [territory("A", postal_codes=[rules[0]]), territory("B", postal_codes=[rules[1]])]
    code = "SW1A 1AA" if rules[0].startswith("SW") else "94105"
    assert winner(territories, {"PostalCode": code}) == expected


def test_priority_beats_specificity() -> None:
    territories = [*OVERLAPPING, territory("Strategic", countries=["US"], priority=5)]
    match = TerritoryIndex.build(territories).match({"Country": "US", "PostalCode": "94105"})
    assert match.territory == "Strategic"
    assert any("'Zip': lower priority 0" in reason for reason in match.reasons)


def test_specificity_weights_rank_postal_over_city_state_and_country_together() -> None:
    assert KIND_WEIGHTS["postal_codes"] > sum(
        KIND_WEIGHTS[kind] for kind in ("cities", "states", "countries", "fields")
    )
    territories = [
        territory("Everything but postal", countries=["US"], states=["CA"], cities=["SF"]),
        territory("Postal", postal_codes=["94105"]),
    ]
    facts = {"Country": "US", "State": "CA", "City": "SF", "PostalCode": "94105"}
    assert winner(territories, facts) == "Postal"


def test_equal_territories_are_decided_by_name_whatever_their_order() -> None:
    territories = [territory("Zulu", countries=["US"]), territory("Alpha", countries=["US"])]
    assert winner(territories, {"Country": "US"}) == "Alpha"
    assert winner(territories[::-1], {"Country": "US"}) == "Alpha"


# --- fallback and reasons -------------------------------------------------------------------------


def test_the_fallback_takes_what_nothing_else_does() -> None:
    territories = [territory("US", countries=["US"]), territory("Rest", "Inbound", fallback=True)]
    index = TerritoryIndex.build(territories)
    assert index.match({"Country": "US"}).territory == "US"
    rest = index.match({"Country": "Japan"})
    assert (rest.territory, rest.team) == ("Rest", "Inbound")
    assert rest.reasons == ["no territory matched", "fallback territory 'Rest'"]


def test_without_a_fallback_an_unmatched_record_has_no_territory() -> None:
    match = TerritoryIndex.build([territory("US", countries=["US"])]).match({"Country": "FR"})
    assert (match.territory, match.team) == (None, None)
    assert "no fallback territory" in match.reasons


def test_the_reasons_name_the_rules_that_matched() -> None:
    territories = [territory("Bay", "West", countries=["US"], postal_codes=["94100-94199"])]
    match = TerritoryIndex.build(territories).match({"Country": "USA", "PostalCode": "94107"})
    assert match.team == "West"
    assert "country US" in match.reasons[0]
    assert "postal code 94107 in 94100-94199" in match.reasons[0]


def test_the_index_checks_only_candidate_territories() -> None:
    territories = [territory(f"Zip {n}", postal_codes=[f"{n:05d}"]) for n in range(500)]
    match = TerritoryIndex.build(territories).match({"PostalCode": "00042"})
    assert match.territory == "Zip 42"
    assert match.candidates == 1


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("territories", "message"),
    [
        ([territory("A", countries=["US"]), territory("a", countries=["FR"])], "more than once"),
        ([territory("A", fallback=True), territory("B", fallback=True)], "only one territory"),
        ([territory("A", fallback=True, countries=["US"])], "cannot have rules"),
        ([territory("A")], "has no rules"),
        ([territory("A", countries=["Atlantis"])], "unknown countries: 'Atlantis'"),
        ([territory("A", postal_codes=["200-100"])], "start is after the end"),
        ([territory("A", fields={"Industry": []})], "lists no values"),
        ([territory("A", cities=["Paris", " "])], "blank values"),
        ([territory("A", countries=["US"], region="West")], "Extra inputs are not permitted"),
    ],
)
def test_bad_configuration_is_rejected_with_a_clear_message(
    territories: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TerritoryIndex.build(territories)


def test_a_territory_set_validates_names_together() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        TerritorySet.model_validate(
            {"territories": [territory("A", countries=["US"]), territory("A", countries=["FR"])]}
        )


def test_single_field_values_are_accepted_and_teams_are_listed() -> None:
    loaded = Territory.model_validate(territory("A", "Fin", fields={"Industry": "Banking"}))
    assert loaded.fields == {"Industry": ("Banking",)}
    assert referenced_teams([loaded]) == {"Fin"}


# --- index versus scan ----------------------------------------------------------------------------

COUNTRIES = ("US", "GB", "DE")
STATES = ("CA", "NY", "BY", "TX")
CITIES = ("Berlin", "London", "Austin")
INDUSTRIES = ("Banking", "Retail")
POSTAL_RULES = ("1*", "10*", "100*", "10000-10999", "10500-20499", "SW1A", "SW1*", "EC1A 1BB", "12")
POSTAL_CODES = (
    "10000", "10499", "10500", "10999", "11000", "12345", "20499", "SW1A 1AA", "EC1A 1BB"
)


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=2, unique=True)


@st.composite
def territory_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=12))
    territories = []
    for number in range(count):
        rules: dict[str, Any] = {
            "countries": draw(_subset(COUNTRIES)),
            "states": draw(_subset(STATES)),
            "cities": draw(_subset(CITIES)),
            "postal_codes": draw(_subset(POSTAL_RULES)),
            "accounts": draw(_subset(("Acme", "Globex"))),
        }
        industries = draw(_subset(INDUSTRIES))
        if industries:
            rules["fields"] = {"Industry": industries}
        rules = {kind: values for kind, values in rules.items() if values}
        if not rules:
            rules["countries"] = [draw(st.sampled_from(COUNTRIES))]
        priority = draw(st.integers(min_value=0, max_value=2))
        territories.append(territory(f"T{number}", f"Team {number}", priority=priority, **rules))
    if draw(st.booleans()):
        territories.append(territory("Fallback", "Inbound", fallback=True))
    return territories


records = st.fixed_dictionaries(
    {},
    optional={
        "Country": st.sampled_from(COUNTRIES),
        "State": st.sampled_from(STATES),
        "City": st.sampled_from(CITIES),
        "PostalCode": st.sampled_from(POSTAL_CODES),
        "Industry": st.sampled_from(INDUSTRIES),
        "Company": st.sampled_from(("Acme Inc", "Initech")),
    },
)


@given(territory_lists(), st.lists(records, min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_the_index_gives_the_same_answer_as_a_full_scan(
    territories: list[dict[str, Any]], facts_list: list[dict[str, Any]]
) -> None:
    index = TerritoryIndex.build(territories)
    for facts in facts_list:
        indexed, scanned = index.match(facts), index.match_by_scan(facts)
        assert (indexed.territory, indexed.team, indexed.reasons) == (
            scanned.territory,
            scanned.team,
            scanned.reasons,
        )
        assert indexed.candidates <= scanned.candidates


@given(territory_lists(), records, st.randoms(use_true_random=False))
@settings(max_examples=80, deadline=None)
def test_the_answer_does_not_depend_on_the_order_of_the_territories(
    territories: list[dict[str, Any]], facts: dict[str, Any], shuffler: random.Random
) -> None:
    shuffled = list(territories)
    shuffler.shuffle(shuffled)
    assert winner(territories, facts) == winner(shuffled, facts)


@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 50)).map(lambda p: (p[0], p[0] + p[1])),
        min_size=1,
        max_size=60,
    ),
    st.integers(-5, 260),
)
@settings(max_examples=150, deadline=None)
def test_the_interval_tree_finds_exactly_the_ranges_holding_a_point(
    ranges: list[tuple[int, int]], point: int
) -> None:
    tree = IntervalTree([(low, high, at) for at, (low, high) in enumerate(ranges)])
    found: list[int] = []
    tree.stab(point, found)
    assert sorted(found) == [at for at, (low, high) in enumerate(ranges) if low <= point <= high]
