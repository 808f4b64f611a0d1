"""Classification: stamp groups (first match wins), tag rules (every match adds), reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.classify import Classification, classify

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

CONFIG_YAML = """
classification:
  stamp_groups:
    - name: segment
      rules:
        - name: enterprise
          when: {field: AnnualRevenue, op: greater_than, value: 50000000}
          set: {Segment: Enterprise}
        - name: mid-market
          when: {field: AnnualRevenue, op: between, value: [1000000, 50000000]}
          set: {Segment: Mid-Market}
      default: {Segment: SMB}
    - name: region
      rules:
        - name: north america
          when: {field: derived.country, op: in, value: [US, CA]}
          set: {Region__c: NA}
        - name: emea
          when: {field: derived.timezone_bucket, op: starts_with, value: Europe/}
          set: {Region__c: EMEA}
  tag_rules:
    - name: education
      when: {field: derived.email_domain, op: ends_with, value: .edu}
      tags: [education]
    - name: free mail
      when: {field: derived.is_free_mail, op: equals, value: true}
      tags: [free-mail, low-intent]
    - when:
        all:
          - {field: Segment, op: equals, value: Enterprise}
          - {field: Region__c, op: equals, value: NA}
      tags: [strategic]
    - name: new
      when: {field: CreatedDate, op: within_last_days, value: 7}
      tags: [fresh]
"""


def load(text: str = CONFIG_YAML) -> Classification:
    return Classification.model_validate(yaml.safe_load(text)["classification"])


CONFIG = load()


@pytest.mark.parametrize(
    ("revenue", "segment"),
    [
        ("60000000", "Enterprise"),
        (50000001, "Enterprise"),
        (50000000, "Mid-Market"),
        ("1000000.00", "Mid-Market"),
        (999999, "SMB"),
        (None, "SMB"),
        ("unknown", "SMB"),
    ],
)
def test_segment_stamp_group_first_match_or_default(revenue: Any, segment: str) -> None:
    result = classify({"AnnualRevenue": revenue}, CONFIG, NOW)
    assert result.stamps["Segment"] == segment


def test_first_matching_rule_wins_even_when_a_later_rule_also_matches() -> None:
    config = load(
        """
        classification:
          stamp_groups:
            - name: g
              rules:
                - {name: broad, when: {field: Country, op: is_not_empty}, set: {Team__c: Broad}}
                - {name: narrow, when: {field: Country, op: equals, value: US}, set: {Team__c: US}}
        """
    )
    result = classify({"Country": "US"}, config, NOW)
    assert result.stamps == {"Team__c": "Broad"}
    assert result.reasons == [
        "stamp group 'g': rule 'broad' set Team__c=Broad because Country is not empty"
    ]


def test_group_without_default_and_without_match_sets_nothing_and_says_so() -> None:
    result = classify({"Country": "Japan"}, CONFIG, NOW)
    assert "Region__c" not in result.stamps
    assert "stamp group 'region': no rule matched, nothing set" in result.reasons


@pytest.mark.parametrize(
    ("fields", "region"),
    [
        ({"Country": "United States"}, "NA"),
        ({"BillingCountry": "canada"}, "NA"),
        ({"Country": "Deutschland"}, "EMEA"),
        ({"Phone": "+44 20 7946 0958"}, "EMEA"),
        ({"Country": "Brasil"}, None),
    ],
)
def test_rules_read_derived_values_such_as_countries_written_as_names(
    fields: dict[str, Any], region: str | None
) -> None:
    assert classify(fields, CONFIG, NOW).stamps.get("Region__c") == region


@pytest.mark.parametrize(
    ("fields", "tags"),
    [
        ({"Email": "prof@mit.edu"}, {"education"}),
        ({"Email": "prof@cs.mit.edu", "Country": "US"}, {"education"}),
        ({"Email": "jo@gmail.com"}, {"free-mail", "low-intent"}),
        ({"Email": "jo@yahoo.co.uk"}, {"free-mail", "low-intent"}),
        ({"Email": "jo@acme.com", "AnnualRevenue": 9e9, "Country": "US"}, {"strategic"}),
        ({"Email": "jo@acme.com", "AnnualRevenue": 9e9, "Country": "FR"}, set()),
        ({"CreatedDate": "2026-11-20T10:15:00.000+0000"}, {"fresh"}),
        ({"CreatedDate": "2026-10-20T10:15:00.000+0000"}, set()),
        ({}, set()),
    ],
)
def test_every_matching_tag_rule_adds_its_tags(fields: dict[str, Any], tags: set[str]) -> None:
    assert classify(fields, CONFIG, NOW).tags == tags


def test_tag_rules_see_stamps_of_the_stamp_groups() -> None:
    result = classify({"AnnualRevenue": "9000000000", "Country": "USA"}, CONFIG, NOW)
    assert result.stamps == {"Segment": "Enterprise", "Region__c": "NA"}
    assert "strategic" in result.tags
    assert "tag rule '#3' added strategic because Segment = Enterprise and Region__c = NA" in (
        result.reasons
    )


def test_later_stamp_groups_see_earlier_stamps() -> None:
    config = load(
        """
        classification:
          stamp_groups:
            - name: size
              rules: [{when: {field: Employees, op: greater_than, value: 1000}, set: {Size__c: L}}]
              default: {Size__c: S}
            - name: queue
              rules: [{when: {field: Size__c, op: equals, value: L}, set: {Queue__c: Big}}]
              default: {Queue__c: Small}
        """
    )
    assert classify({"Employees": "5000"}, config, NOW).stamps == {"Size__c": "L", "Queue__c": "Big"}
    assert classify({"Employees": "5"}, config, NOW).stamps == {"Size__c": "S", "Queue__c": "Small"}


def test_later_tag_rules_see_earlier_tags() -> None:
    config = load(
        """
        classification:
          tag_rules:
            - {when: {field: Email, op: is_not_empty}, tags: [contactable]}
            - {when: {field: tags, op: contains, value: contactable}, tags: [nurture]}
        """
    )
    assert classify({"Email": "a@b.com"}, config, NOW).tags == {"contactable", "nurture"}
    assert classify({}, config, NOW).tags == frozenset()


def test_reasons_name_group_rule_stamp_and_cause() -> None:
    result = classify({"AnnualRevenue": "60000000", "Email": "jo@gmail.com"}, CONFIG, NOW)
    assert result.reasons[0] == (
        "stamp group 'segment': rule 'enterprise' set Segment=Enterprise"
        " because AnnualRevenue > 50000000"
    )
    assert "tag rule 'free mail' added free-mail, low-intent because derived.is_free_mail = True" in (
        result.reasons
    )


def test_default_is_reported_as_such() -> None:
    result = classify({}, CONFIG, NOW)
    assert result.reasons[0] == "stamp group 'segment': no rule matched, default set Segment=SMB"


def test_result_carries_derived_values() -> None:
    result = classify({"Email": "jo@Sales.Acme.com", "Country": "DE"}, CONFIG, NOW)
    assert result.derived["email_domain"] == "acme.com"
    assert result.derived["timezone"] == "Europe/Berlin"


def test_empty_classification_only_derives() -> None:
    result = classify({"Email": "jo@acme.com"}, Classification(), NOW)
    assert (result.tags, result.stamps, result.reasons) == (frozenset(), {}, [])
    assert result.derived["email_domain"] == "acme.com"


INVALID_CONFIGS = [
    (
        {"stamp_groups": [{"name": "g", "rules": [
            {"when": {"field": "Email", "op": "regex", "value": "[a-"}, "set": {"X": 1}}]}]},
        ("stamp_groups", 0, "rules", 0, "when", "value"),
        "invalid regex",
    ),
    (
        {"tag_rules": [{"when": {"all": [{"field": "A", "op": "between", "value": [3, 1]}]},
                        "tags": ["t"]}]},
        ("tag_rules", 0, "when", "all", 0, "value"),
        "reversed",
    ),
    (
        {"stamp_groups": [{"name": "g", "rules": []}]},
        ("stamp_groups", 0, "rules"),
        "at least 1",
    ),
    (
        {"stamp_groups": [{"name": "g", "rules": [
            {"when": {"field": "A", "op": "is_empty"}, "set": {}}]}]},
        ("stamp_groups", 0, "rules", 0, "set"),
        "at least 1",
    ),
    (
        {"stamp_groups": [{"name": "g", "rules": [
            {"when": {"field": "A", "op": "is_empty"}, "set": {"bad name": 1}}]}]},
        ("stamp_groups", 0, "rules", 0, "set", "bad name", "[key]"),
        "pattern",
    ),
    (
        {"stamp_groups": [
            {"name": "g", "rules": [{"when": {"field": "A", "op": "is_empty"}, "set": {"X": 1}}]},
            {"name": "g", "rules": [{"when": {"field": "A", "op": "is_empty"}, "set": {"Y": 1}}]},
        ]},
        (),
        "stamp group name 'g' is used more than once",
    ),
    (
        {"stamp_groups": [
            {"name": "a", "rules": [{"when": {"field": "A", "op": "is_empty"}, "set": {"X": 1}}]},
            {"name": "b", "rules": [{"when": {"field": "A", "op": "is_empty"}, "set": {"Y": 1}}],
             "default": {"X": 2}},
        ]},
        (),
        "field 'X' is stamped by both group 'a' and group 'b'",
    ),
    (
        {"stamp_groups": [{"name": "g", "rules": [
            {"name": "r", "when": {"field": "A", "op": "is_empty"}, "set": {"X": 1}},
            {"name": "r", "when": {"field": "B", "op": "is_empty"}, "set": {"X": 2}}]}]},
        ("stamp_groups", 0),
        "rule name 'r' is used more than once",
    ),
    (
        {"tag_rules": [{"when": {"field": "A", "op": "is_empty"}, "tags": []}]},
        ("tag_rules", 0, "tags"),
        "at least 1",
    ),
    (
        {"tag_rules": [{"when": {"field": "A", "op": "is_empty"}, "tag": ["x"]}]},
        ("tag_rules", 0, "tag"),
        "Extra inputs",
    ),
]


@pytest.mark.parametrize(("data", "loc", "message"), INVALID_CONFIGS)
def test_invalid_configuration_is_reported_with_its_path(
    data: dict[str, Any], loc: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Classification.model_validate(data)
    errors = [(err["loc"], err["msg"]) for err in caught.value.errors()]
    assert any(where == loc and message in text for where, text in errors), errors


@settings(max_examples=100, deadline=None)
@given(
    thresholds=st.lists(st.integers(0, 100), min_size=1, max_size=6),
    score=st.one_of(st.integers(-10, 110), st.integers(-10, 110).map(str), st.none()),
    with_default=st.booleans(),
)
def test_stamp_group_picks_the_first_rule_whose_condition_holds(
    thresholds: list[int], score: Any, with_default: bool
) -> None:
    group: dict[str, Any] = {
        "name": "g",
        "rules": [
            {"name": f"r{index}", "when": {"field": "Score", "op": "greater_than", "value": limit},
             "set": {"Pick__c": index}}
            for index, limit in enumerate(thresholds)
        ],
    }
    if with_default:
        group["default"] = {"Pick__c": "default"}
    config = Classification.model_validate({"stamp_groups": [group]})
    number = None if score is None else int(score)
    first = next(
        (index for index, limit in enumerate(thresholds) if number is not None and number > limit),
        None,
    )
    expected = first if first is not None else ("default" if with_default else None)
    assert classify({"Score": score}, config, NOW).stamps.get("Pick__c") == expected


@settings(max_examples=100, deadline=None)
@given(
    rules=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.sets(st.sampled_from("xyz"), min_size=1)),
        max_size=6,
    ),
    present=st.sets(st.sampled_from(["A", "B", "C"])),
)
def test_tags_are_the_union_of_every_matching_rule(
    rules: list[tuple[str, set[str]]], present: set[str]
) -> None:
    config = Classification.model_validate(
        {"tag_rules": [
            {"when": {"field": name, "op": "is_not_empty"}, "tags": sorted(tags)}
            for name, tags in rules
        ]}
    )
    result = classify({name: "yes" for name in present}, config, NOW)
    expected = set().union(*(tags for name, tags in rules if name in present))
    assert result.tags == expected
    assert len(result.reasons) == sum(1 for name, _ in rules if name in present)
