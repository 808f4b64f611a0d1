"""The condition language: operators, groups, validation at load, explanations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.base import Strict
from routing.conditions import Condition, evaluate, explain
from routing.facts import facts_for

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def cond(op: str, value: Any = None, field: str = "F", **extra: Any) -> Condition:
    data: dict[str, Any] = {"field": field, "op": op, **extra}
    if value is not None:
        data["value"] = value
    return Condition.model_validate(data)




class Rule(Strict):
    when: Condition


OPERATOR_CASES = [
    # (op, value, actual, expected)
    ("equals", "Enterprise", "enterprise", True),
    ("equals", "Enterprise", "Enterprise ", True),
    ("equals", "Enterprise", "SMB", False),
    ("equals", 100, "100.0", True),
    ("equals", 100, 100, True),
    ("equals", "100", 100, True),
    ("equals", True, "true", True),
    ("equals", False, True, False),
    ("equals", "x", None, False),
    ("not_equals", "SMB", "Enterprise", True),
    ("not_equals", "SMB", "smb", False),
    ("not_equals", "SMB", None, True),
    ("in", ["US", "CA"], "ca", True),
    ("in", ["US", "CA"], "FR", False),
    ("in", ["US", "CA"], None, False),
    ("in", [1, 2], "2", True),
    ("in", ["a", "b"], frozenset({"c", "B"}), True),
    ("not_in", ["US", "CA"], "FR", True),
    ("not_in", ["US", "CA"], "us", False),
    ("not_in", ["US", "CA"], "", True),
    ("contains", "corp", "Acme CORP Ltd", True),
    ("contains", "corp", "Acme", False),
    ("contains", "enterprise", frozenset({"Enterprise", "emea"}), True),
    ("contains", "enter", frozenset({"enterprise"}), False),
    ("contains", "x", None, False),
    ("starts_with", "VP", "vp of sales", True),
    ("starts_with", ["CEO", "CTO"], "CTO", True),
    ("starts_with", "VP", "SVP", False),
    ("ends_with", ".edu", "mit.EDU", True),
    ("ends_with", [".edu", ".ac.uk"], "ox.ac.uk", True),
    ("ends_with", ".edu", "edu.com", False),
    ("ends_with", ".edu", None, False),
    ("regex", r"^\d{5}$", "10001", True),
    ("regex", r"^\d{5}$", 10001, True),
    ("regex", r"^\d{5}$", "1000", False),
    ("regex", r"acme", "ACME Inc", True),
    ("regex", r"acme", None, False),
    ("greater_than", 1000, "1000.5", True),
    ("greater_than", 1000, 1000, False),
    ("greater_than", 1000, "lots", False),
    ("greater_than", 1000, None, False),
    ("greater_than", 0, True, False),
    ("less_than", "50", 49, True),
    ("less_than", 50, "  50 ", False),
    ("less_than", 50, "nan", False),
    ("between", [10, 20], 10, True),
    ("between", [10, 20], "20", True),
    ("between", [10, 20], 20.0001, False),
    ("between", [10, 20], 9.999, False),
    ("before", "2026-01-01", "2025-12-31T23:59:59.000+0000", True),
    ("before", "2026-01-01", "2026-01-01T00:00:00.000+0000", False),
    ("before", "2026-01-01T00:00:00Z", "2025-12-31T19:30:00.000-0400", True),
    ("before", "2026-01-01T00:00:00Z", "2025-12-31T19:30:00.000-0500", False),
    ("before", "2026-01-01", "2025-12-31", True),
    ("before", "2026-01-01", "not a date", False),
    ("after", "2026-01-01", "2026-01-02", True),
    ("after", "2026-01-01", "2026-01-01T23:00:00.000+0000", False),
    ("after", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01.000+0000", True),
    ("after", date(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), True),
    ("within_last_days", 30, "2026-11-01T00:00:00.000+0000", True),
    ("within_last_days", 30, "2026-10-01T00:00:00.000+0000", False),
    ("within_last_days", 30, "2026-11-21T00:00:00.000+0000", False),
    ("within_last_days", 1, "2026-11-19", True),
    ("within_last_days", 1, "2026-11-18", False),
    ("within_last_days", 0.5, "2026-11-20T00:00:00.000+0000", True),
    ("within_last_days", 30, None, False),
    ("is_empty", None, None, True),
    ("is_empty", None, "   ", True),
    ("is_empty", None, frozenset(), True),
    ("is_empty", None, 0, False),
    ("is_empty", None, "x", False),
    ("is_not_empty", None, "x", True),
    ("is_not_empty", None, "", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "expected"), OPERATOR_CASES)
def test_operator_on_one_value(op: str, value: Any, actual: Any, expected: bool) -> None:
    condition = cond(op, value)
    assert evaluate(condition, {"F": actual}, NOW) is expected


@pytest.mark.parametrize("op", ["equals", "in", "contains", "starts_with", "regex"])
def test_case_sensitive_option_distinguishes_case(op: str) -> None:
    value: Any = ["Acme"] if op == "in" else "Acme"
    assert evaluate(cond(op, value), {"F": "ACME"}, NOW)
    assert not evaluate(cond(op, value, case_sensitive=True), {"F": "ACME"}, NOW)
    assert evaluate(cond(op, value, case_sensitive=True), {"F": "Acme"}, NOW)


ALL_OPS_WITH_VALUES: list[tuple[str, Any]] = [
    ("equals", "x"),
    ("not_equals", "x"),
    ("in", ["x"]),
    ("not_in", ["x"]),
    ("contains", "x"),
    ("starts_with", "x"),
    ("ends_with", "x"),
    ("regex", "x"),
    ("greater_than", 1),
    ("less_than", 1),
    ("between", [1, 2]),
    ("before", "2026-01-01"),
    ("after", "2026-01-01"),
    ("within_last_days", 3),
    ("is_empty", None),
    ("is_not_empty", None),
]


@pytest.mark.parametrize(("op", "value"), ALL_OPS_WITH_VALUES)
def test_missing_field_behaves_as_empty(op: str, value: Any) -> None:
    condition = cond(op, value)
    assert evaluate(condition, {}, NOW) == evaluate(condition, {"F": None}, NOW)
    assert evaluate(condition, {}, NOW) == evaluate(condition, {"F": ""}, NOW)


NEGATIVE_OPS = {"not_equals", "not_in", "is_empty"}


@pytest.mark.parametrize(("op", "value"), ALL_OPS_WITH_VALUES)
def test_only_negative_operators_hold_on_a_missing_field(op: str, value: Any) -> None:
    assert evaluate(cond(op, value), {}, NOW) is (op in NEGATIVE_OPS)


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.text(max_size=4), max_size=3),
    st.frozensets(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.builds(object),
)


@settings(max_examples=200, deadline=None)
@given(op_value=st.sampled_from(ALL_OPS_WITH_VALUES), actual=odd_values)
def test_any_fact_value_gives_a_bool_and_never_raises(op_value: tuple[str, Any], actual: Any) -> None:
    condition = cond(*op_value)
    assert isinstance(evaluate(condition, {"F": actual}, NOW), bool)
    assert isinstance(explain(condition, {"F": actual}, NOW), str)


@settings(max_examples=100, deadline=None)
@given(number=st.integers(-10**9, 10**9), threshold=st.integers(-10**9, 10**9))
def test_numbers_given_as_strings_compare_like_numbers(number: int, threshold: int) -> None:
    for actual in (number, str(number), f"{number}.00"):
        assert evaluate(cond("greater_than", threshold), {"F": actual}, NOW) is (number > threshold)
        assert evaluate(cond("less_than", str(threshold)), {"F": actual}, NOW) is (number < threshold)


@settings(max_examples=100, deadline=None)
@given(low=st.integers(-1000, 1000), width=st.integers(0, 1000), number=st.integers(-3000, 3000))
def test_between_includes_both_edges(low: int, width: int, number: int) -> None:
    high = low + width
    assert evaluate(cond("between", [low, high]), {"F": str(number)}, NOW) is (low <= number <= high)


ascii_words = st.text(alphabet="abcdefghijKLMNOPQRSTuvwxyz -.", min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(word=ascii_words, others=st.lists(ascii_words, max_size=4))
def test_in_and_not_in_are_complementary_and_ignore_case(word: str, others: list[str]) -> None:
    values = [*others, word.swapcase()]
    assert evaluate(cond("in", values), {"F": word}, NOW)
    assert not evaluate(cond("not_in", values), {"F": word}, NOW)
    for actual in others:
        inside = evaluate(cond("in", [word]), {"F": actual}, NOW)
        assert inside is not evaluate(cond("not_in", [word]), {"F": actual}, NOW)


@settings(max_examples=100, deadline=None)
@given(
    a=st.sampled_from(ALL_OPS_WITH_VALUES),
    b=st.sampled_from(ALL_OPS_WITH_VALUES),
    fa=odd_values,
    fb=odd_values,
)
def test_groups_combine_like_boolean_logic(
    a: tuple[str, Any], b: tuple[str, Any], fa: Any, fb: Any
) -> None:
    first, second = cond(*a, field="A"), cond(*b, field="B")
    facts = {"A": fa, "B": fb}
    x, y = evaluate(first, facts, NOW), evaluate(second, facts, NOW)
    both = Condition.model_validate({"all": [first, second]})
    either = Condition.model_validate({"any": [first, second]})
    negated = Condition.model_validate({"not": first})
    assert evaluate(both, facts, NOW) is (x and y)
    assert evaluate(either, facts, NOW) is (x or y)
    assert evaluate(negated, facts, NOW) is (not x)


@settings(max_examples=150, deadline=None)
@given(
    created=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(NEW_YORK)
    ),
    elapsed_minutes=st.integers(-3 * 24 * 60, 3 * 24 * 60),
)
def test_within_last_days_counts_elapsed_time_across_dst(
    created: datetime, elapsed_minutes: int
) -> None:
    """Both datetimes in one DST zone: the window is 24 real hours, not a wall-clock day."""
    now = (created.astimezone(UTC) + timedelta(minutes=elapsed_minutes)).astimezone(NEW_YORK)
    expected = 0 <= elapsed_minutes <= 24 * 60
    assert evaluate(cond("within_last_days", 1), {"F": created}, now) is expected


def test_within_last_days_over_the_autumn_dst_change_uses_real_hours() -> None:
    created = datetime(2026, 10, 31, 2, 30, tzinfo=NEW_YORK)  # EDT, 06:30 UTC
    now = datetime(2026, 11, 1, 2, 0, tzinfo=NEW_YORK)  # EST, 07:00 UTC: 24.5 real hours later
    assert not evaluate(cond("within_last_days", 1), {"F": created}, now)


def test_before_compares_instants_not_wall_clocks_in_one_zone() -> None:
    """01:30 EDT precedes 01:10 EST on the night the clocks go back."""
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0)
    later = datetime(2026, 11, 1, 1, 10, tzinfo=NEW_YORK, fold=1)
    assert evaluate(cond("before", later), {"F": first}, NOW)
    assert not evaluate(cond("after", later), {"F": first}, NOW)


def test_salesforce_datetime_format_is_understood() -> None:
    facts = {"CreatedDate": "2026-11-20T10:15:00.000+0000"}
    condition = cond("within_last_days", 1, field="CreatedDate")
    assert evaluate(condition, facts, NOW)


def test_nested_yaml_example_parses_and_evaluates() -> None:
    condition = Condition.model_validate(
        yaml.safe_load(
            """
            all:
              - {field: Country, op: in, value: [US, CA]}
              - any:
                  - {field: derived.email_domain, op: ends_with, value: ".edu"}
                  - {field: AnnualRevenue, op: between, value: [1000000, 50000000]}
              - not: {field: Email, op: is_empty}
              - {field: tags, op: contains, value: enterprise}
            """
        )
    )
    base = facts_for(
        {"Country": "US", "Email": "a@mit.edu", "AnnualRevenue": "10"},
        derived={"email_domain": "mit.edu"},
        tags={"enterprise"},
    )
    assert evaluate(condition, base, NOW)
    assert not evaluate(condition, {**base, "Country": "FR"}, NOW)
    assert not evaluate(condition, {**base, "Email": ""}, NOW)
    assert not evaluate(condition, {**base, "tags": frozenset()}, NOW)
    assert evaluate(condition, {**base, "derived.email_domain": "x.com", "AnnualRevenue": "2e6"}, NOW)


INVALID_CONDITIONS = [
    ({"all": [{"field": "x", "op": "regex", "value": "a("}]}, "when.all[0].value", "invalid regex"),
    ({"field": "x", "op": "between", "value": [5, 1]}, "when.value", "reversed"),
    ({"field": "x", "op": "between", "value": [1]}, "when.value", "two numbers"),
    ({"field": "x", "op": "greater_than", "value": "big"}, "when.value", "needs a number"),
    ({"field": "x", "op": "before", "value": "yesterday"}, "when.value", "ISO"),
    ({"field": "x", "op": "within_last_days", "value": -1}, "when.value", ">= 0"),
    ({"field": "x", "op": "in", "value": "US"}, "when.value", "list"),
    ({"field": "x", "op": "equals"}, "when.value", "needs a value"),
    ({"field": "x", "op": "is_empty", "value": 1}, "when.value", "takes no value"),
    ({"field": "x", "op": "equals", "value": {"a": 1}}, "when.value", "compares"),
    ({"field": "x", "op": "ends_with", "value": ""}, "when.value", "non-empty string"),
    ({"field": "x"}, "when", "both 'field' and 'op'"),
    ({"any": []}, "when.any", "at least one"),
    ({"all": [{"not": {"field": "x", "op": "like"}}]}, "when.all[0].not.op", "Input should be"),
    ({"field": "x", "op": "is_empty", "not": {"field": "y", "op": "is_empty"}}, "when", "either"),
    ({"any": [{"field": "x", "op": "is_empty"}], "value": 3}, "when", "belong to a test"),
    ({"field": "x", "op": "is_empty", "typo": 1}, "when.typo", "Extra inputs"),
]


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@pytest.mark.parametrize(("data", "path", "message"), INVALID_CONDITIONS)
def test_invalid_condition_is_reported_at_load_with_its_path(
    data: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate({"when": data})
    errors = [(_location(err["loc"]), err["msg"]) for err in caught.value.errors()]
    assert any(where == path and message in text for where, text in errors), errors


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"Country": "US"}, "Country in [US, CA]"),
        ({"Country": "FR"}, "Country not in [US, CA] (was FR)"),
        ({}, "Country not in [US, CA] (empty)"),
    ],
)
def test_explain_states_the_deciding_test(facts: dict[str, Any], expected: str) -> None:
    assert explain(cond("in", ["US", "CA"], field="Country"), facts, NOW) == expected


def test_explain_any_names_the_branch_that_matched() -> None:
    condition = Condition.model_validate(
        {
            "any": [
                {"field": "Country", "op": "equals", "value": "US"},
                {"field": "AnnualRevenue", "op": "greater_than", "value": 1000},
            ]
        }
    )
    assert explain(condition, {"Country": "FR", "AnnualRevenue": 5000}, NOW) == "AnnualRevenue > 1000"
    assert explain(condition, {"Country": "FR"}, NOW) == (
        "Country != US (was FR) and AnnualRevenue is not > 1000 (empty)"
    )


def test_explain_not_reports_the_fact_found() -> None:
    condition = Condition.model_validate({"not": {"field": "Email", "op": "is_empty"}})
    assert explain(condition, {"Email": "a@b.c"}, NOW) == "Email is not empty"


def test_conditions_are_hashable_and_round_trip_through_their_dump() -> None:
    condition = Condition.model_validate(
        {"all": [{"field": "a", "op": "in", "value": [1, 2]}, {"not": {"field": "b", "op": "is_empty"}}]}
    )
    dumped = condition.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    assert Condition.model_validate(dumped) == condition
    assert hash(Condition.model_validate(dumped)) == hash(condition)


def test_fields_lists_every_fact_read() -> None:
    condition = Condition.model_validate(
        {"any": [{"field": "a", "op": "is_empty"}, {"not": {"field": "match.score", "op": "is_empty"}}]}
    )
    assert condition.fields() == {"a", "match.score"}


def test_facts_for_flattens_stage_results() -> None:
    facts = facts_for(
        {"Country": "US"},
        derived={"email_domain": "acme.com"},
        tags=["a", "b", "a"],
        territory="West",
        match={"account_id": "001", "score": 0.9},
    )
    assert facts == {
        "Country": "US",
        "derived.email_domain": "acme.com",
        "tags": frozenset({"a", "b"}),
        "territory": "West",
        "match.account_id": "001",
        "match.score": 0.9,
    }
