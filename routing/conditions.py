"""A small condition language over a flat facts mapping (see ``routing.facts``).

A condition is either a test on one fact or a group of conditions::

    all:
      - {field: Country, op: in, value: [US, CA]}
      - any:
          - {field: derived.email_domain, op: ends_with, value: ".edu"}
          - {field: AnnualRevenue, op: between, value: [1000000, 50000000]}
      - not: {field: Email, op: is_empty}

Every condition is validated once when the configuration loads (regexes compile, ranges are
ordered, dates parse) and compiled into a plain closure, so ``evaluate`` does no parsing, no
regex compilation and no model construction. Missing facts behave as empty and never raise.
String comparisons ignore case unless ``case_sensitive: true``. On a collection fact (such as
``tags``) the value tests (equals, in, contains, starts_with, ends_with, regex) hold when any
element passes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from routing.base import Strict

Operator = Literal[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "regex",
    "greater_than",
    "less_than",
    "between",
    "before",
    "after",
    "within_last_days",
    "is_empty",
    "is_not_empty",
]

Check = Callable[[Mapping[str, Any], datetime], bool]

MEMBERSHIP_OPS = frozenset({"equals", "not_equals", "in", "not_in"})
AFFIX_OPS = frozenset({"starts_with", "ends_with"})
NUMBER_OPS = frozenset({"greater_than", "less_than"})
DATE_OPS = frozenset({"before", "after"})
EMPTINESS_OPS = frozenset({"is_empty", "is_not_empty"})
NEGATED_OPS = frozenset({"not_equals", "not_in", "is_empty"})
COLLECTION_TYPES = (list, tuple, set, frozenset)
DATE_ONLY_LENGTH = 10  # "2026-11-20"
MAX_LISTED_VALUES = 6

# (wording when the test holds, wording when it does not)
OP_WORDING: dict[str, tuple[str, str]] = {
    "equals": ("=", "!="),
    "not_equals": ("!=", "="),
    "in": ("in", "not in"),
    "not_in": ("not in", "in"),
    "contains": ("contains", "does not contain"),
    "starts_with": ("starts with", "does not start with"),
    "ends_with": ("ends with", "does not end with"),
    "regex": ("matches", "does not match"),
    "greater_than": (">", "is not >"),
    "less_than": ("<", "is not <"),
    "between": ("between", "not between"),
    "before": ("before", "not before"),
    "after": ("after", "not after"),
    "within_last_days": ("within the last", "not within the last"),
    "is_empty": ("is empty", "is not empty"),
    "is_not_empty": ("is not empty", "is empty"),
}


# --- coercions shared by compile time and evaluation -------------------------------------------


def as_number(value: Any) -> float | None:
    """A finite number from a number or a numeric string (Salesforce sends both), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_temporal(value: Any) -> date | datetime | None:
    """A date, or a UTC datetime, from a date/datetime or an ISO string; naive means UTC."""
    if isinstance(value, datetime):
        return _to_utc(value)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == DATE_ONLY_LENGTH:
            return date.fromisoformat(text)
        return _to_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (*COLLECTION_TYPES, dict)):
        return len(value) == 0
    return False


def _to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _as_date(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return None


def _elements(value: Any) -> Iterable[Any]:
    if isinstance(value, COLLECTION_TYPES):
        return value
    return (value,)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


# --- the model ----------------------------------------------------------------------------------


class Condition(Strict):
    """One test (``field``/``op``/``value``) or one group (``all``, ``any`` or ``not``)."""

    model_config = ConfigDict(populate_by_name=True)

    field: str | None = Field(default=None, min_length=1, description="a key of the facts mapping")
    op: Operator | None = None
    case_sensitive: bool = False
    value: Any = Field(default=None, validate_default=True)
    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    _check: Check = PrivateAttr()

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is None:
            return value
        return _validated_value(op, value, info.data.get("case_sensitive", False))

    @field_validator("all", "any")
    @classmethod
    def _group_not_empty(cls, children: tuple[Condition, ...] | None) -> Any:
        if children is not None and not children:
            raise ValueError("a group needs at least one condition")
        return children

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        groups = [name for name in ("all", "any", "not_") if getattr(self, name) is not None]
        is_test = self.field is not None or self.op is not None
        if len(groups) + is_test != 1:
            raise ValueError(
                "a condition is either one test {field, op, value} or one group (all, any, not)"
            )
        if is_test and (self.field is None or self.op is None):
            raise ValueError("a test needs both 'field' and 'op'")
        if not is_test and (self.value is not None or self.case_sensitive):
            raise ValueError("'value' and 'case_sensitive' belong to a test, not to a group")
        self._check = _compile(self)
        return self

    def __eq__(self, other: object) -> bool:
        """Equal when the definitions are equal (the compiled closure is not compared)."""
        if not isinstance(other, Condition):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = Strict.__hash__

    @property
    def is_test(self) -> bool:
        return self.op is not None

    def fields(self) -> frozenset[str]:
        """Every fact name this condition reads."""
        if self.field is not None:
            return frozenset({self.field})
        return frozenset().union(*(child.fields() for child in self._children()))

    def _children(self) -> tuple[Condition, ...]:
        if self.not_ is not None:
            return (self.not_,)
        return self.all or self.any or ()

    def describe(self) -> str:
        """The condition in words, e.g. ``Country in [US, CA]``."""
        if self.is_test:
            return _describe_test(self, holds=True)
        if self.not_ is not None:
            return f"not ({self.not_.describe()})"
        joiner = " and " if self.all is not None else " or "
        return joiner.join(_grouped(child.describe(), child) for child in self._children())


# --- validation of values -----------------------------------------------------------------------


def _validated_value(op: str, value: Any, case_sensitive: bool) -> Any:
    if op in EMPTINESS_OPS:
        if value is not None:
            raise ValueError(f"'{op}' takes no value")
        return None
    if value is None:
        raise ValueError(f"'{op}' needs a value")
    if op in MEMBERSHIP_OPS or op == "contains":
        values = value if isinstance(value, (list, tuple)) else None
        if op in {"in", "not_in"}:
            if values is None or not values:
                raise ValueError(f"'{op}' needs a non-empty list of values")
            return tuple(_require_scalar(op, item) for item in values)
        return _require_scalar(op, value)
    if op in AFFIX_OPS:
        items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if not items or not all(isinstance(item, str) and item for item in items):
            raise ValueError(f"'{op}' needs a non-empty string or a list of them")
        return value if isinstance(value, str) else items
    if op == "regex":
        return _compiled_regex(value, case_sensitive).pattern
    if op in NUMBER_OPS:
        _require_number(op, value)
        return value
    if op == "between":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError("'between' needs a list of two numbers [low, high]")
        low, high = (_require_number(op, bound) for bound in value)
        if low > high:
            raise ValueError(f"'between' range is reversed: {value[0]} > {value[1]}")
        return (value[0], value[1])
    if op in DATE_OPS:
        moment = as_temporal(value)
        if moment is None:
            raise ValueError(f"'{op}' needs a date or an ISO date-time, got {value!r}")
        return moment
    if op == "within_last_days":
        days = _require_number(op, value)
        if days < 0:
            raise ValueError("'within_last_days' needs a number of days >= 0")
        return value
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - Literal rejects it first


def _require_scalar(op: str, value: Any) -> Any:
    if _scalar_text(value) is None:
        raise ValueError(f"'{op}' compares with text, numbers or booleans, got {value!r}")
    return value


def _require_number(op: str, value: Any) -> float:
    number = as_number(value)
    if number is None:
        raise ValueError(f"'{op}' needs a number, got {value!r}")
    return number


def _compiled_regex(pattern: Any, case_sensitive: bool) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError(f"'regex' needs a pattern string, got {pattern!r}")
    try:
        return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


# --- compilation into closures -------------------------------------------------------------------


def _compile(node: Condition) -> Check:
    if node.all is not None:
        return _compile_all(tuple(child._check for child in node.all))
    if node.any is not None:
        return _compile_any(tuple(child._check for child in node.any))
    if node.not_ is not None:
        inner = node.not_._check
        return lambda facts, now: not inner(facts, now)
    assert node.field is not None and node.op is not None
    test = _compile_test(node.op, node.value, node.case_sensitive)
    field = node.field

    def check(facts: Mapping[str, Any], now: datetime) -> bool:
        return test(facts.get(field), now)

    return check


def _compile_all(checks: tuple[Check, ...]) -> Check:
    def check(facts: Mapping[str, Any], now: datetime) -> bool:
        for child in checks:
            if not child(facts, now):
                return False
        return True

    return check


def _compile_any(checks: tuple[Check, ...]) -> Check:
    def check(facts: Mapping[str, Any], now: datetime) -> bool:
        for child in checks:
            if child(facts, now):
                return True
        return False

    return check


ValueTest = Callable[[Any, datetime], bool]


def _compile_test(op: str, expected: Any, case_sensitive: bool) -> ValueTest:
    fold: Callable[[str], str] = (lambda text: text) if case_sensitive else str.casefold
    if op in MEMBERSHIP_OPS:
        values = expected if isinstance(expected, tuple) else (expected,)
        member = _membership(values, fold)
        return (lambda actual, now: not member(actual)) if op in NEGATED_OPS else (
            lambda actual, now: member(actual)
        )
    if op == "contains":
        return _contains(fold(_scalar_text(expected) or ""), fold)
    if op in AFFIX_OPS:
        affixes = tuple(fold(item) for item in _elements(expected))
        method = str.startswith if op == "starts_with" else str.endswith
        return _any_text(lambda text: method(fold(text), affixes))
    if op == "regex":
        search = _compiled_regex(expected, case_sensitive).search
        return _any_text(lambda text: search(text) is not None)
    if op in NUMBER_OPS or op == "between":
        return _numeric(op, expected)
    if op in DATE_OPS:
        return _temporal(op, expected)
    if op == "within_last_days":
        return _within_last(timedelta(days=float(expected)))
    if op == "is_empty":
        return lambda actual, now: is_empty(actual)
    return lambda actual, now: not is_empty(actual)


def _membership(values: tuple[Any, ...], fold: Callable[[str], str]) -> Callable[[Any], bool]:
    numbers = frozenset(float(value) for value in values if _is_number(value))
    texts = frozenset(fold(_scalar_text(value) or "") for value in values if not _is_number(value))

    def matches(item: Any) -> bool:
        if numbers:
            number = as_number(item)
            if number is not None and number in numbers:
                return True
        text = _scalar_text(item)
        return text is not None and fold(text) in texts

    def member(actual: Any) -> bool:
        if isinstance(actual, COLLECTION_TYPES):
            return any(matches(item) for item in actual)
        return matches(actual)

    return member


def _contains(needle: str, fold: Callable[[str], str]) -> ValueTest:
    def test(actual: Any, now: datetime) -> bool:
        if isinstance(actual, COLLECTION_TYPES):
            return any(fold(text) == needle for text in map(_scalar_text, actual) if text)
        text = _scalar_text(actual)
        return text is not None and needle in fold(text)

    return test


def _any_text(predicate: Callable[[str], bool]) -> ValueTest:
    def test(actual: Any, now: datetime) -> bool:
        for item in _elements(actual):
            text = _scalar_text(item)
            if text is not None and predicate(text):
                return True
        return False

    return test


def _numeric(op: str, expected: Any) -> ValueTest:
    if op == "between":
        low, high = (float(as_number(bound) or 0.0) for bound in expected)
    else:
        low = high = float(as_number(expected) or 0.0)

    def test(actual: Any, now: datetime) -> bool:
        number = as_number(actual)
        if number is None:
            return False
        if op == "greater_than":
            return number > low
        if op == "less_than":
            return number < high
        return low <= number <= high

    return test


def _temporal(op: str, bound: date | datetime) -> ValueTest:
    is_before = op == "before"

    def test(actual: Any, now: datetime) -> bool:
        moment = as_temporal(actual)
        if moment is None:
            return False
        if isinstance(moment, datetime) and isinstance(bound, datetime):
            left, right = moment, bound
        else:
            left, right = _as_date(moment), _as_date(bound)  # type: ignore[assignment]
        return left < right if is_before else left > right

    return test


def _within_last(window: timedelta) -> ValueTest:
    def test(actual: Any, now: datetime) -> bool:
        moment = as_temporal(actual)
        if moment is None:
            return False
        now_utc = _to_utc(now)
        if isinstance(moment, datetime):
            return now_utc - window <= moment <= now_utc
        today = now_utc.date()
        return (now_utc - window).date() <= moment <= today

    return test


# --- public API -----------------------------------------------------------------------------------


def evaluate(condition: Condition, facts: Mapping[str, Any], now: datetime) -> bool:
    """Whether the condition holds for these facts; ``now`` is timezone-aware."""
    # Read the compiled closure straight from pydantic's private storage: attribute access to
    # a private attribute goes through BaseModel.__getattr__, which costs more than the test.
    check: Check = condition.__pydantic_private__["_check"]  # type: ignore[index]
    return check(facts, now)


def explain(condition: Condition, facts: Mapping[str, Any], now: datetime) -> str:
    """Why the condition holds or not, in words, e.g. ``Country in [US, CA]``."""
    return _why(condition, facts, now)[1]


def _why(node: Condition, facts: Mapping[str, Any], now: datetime) -> tuple[bool, str]:
    if node.is_test:
        holds = node._check(facts, now)
        text = _describe_test(node, holds)
        if not holds and node.op not in EMPTINESS_OPS:
            text += f" ({_actual_text(facts.get(node.field or ''))})"
        return holds, text
    if node.not_ is not None:
        holds, text = _why(node.not_, facts, now)
        return not holds, text
    outcomes = [(_why(child, facts, now), child) for child in node._children()]
    decisive = node.all is None  # any: true if some child is true
    chosen = [item for item in outcomes if item[0][0] == decisive]
    if chosen:
        (_, text), child = chosen[0]
        return decisive, text
    joiner = " and "
    return not decisive, joiner.join(_grouped(text, child) for (_, text), child in outcomes)


def _grouped(text: str, child: Condition) -> str:
    return f"({text})" if child.all is not None or child.any is not None else text


def _describe_test(node: Condition, holds: bool) -> str:
    op = node.op or ""
    words = OP_WORDING[op][0 if holds else 1]
    value = node.value
    if op in EMPTINESS_OPS:
        return f"{node.field} {words}"
    if op == "between":
        return f"{node.field} {words} {_format(value[0])} and {_format(value[1])}"
    if op == "within_last_days":
        return f"{node.field} {words} {_format(value)} days"
    if op == "regex":
        return f"{node.field} {words} /{value}/"
    return f"{node.field} {words} {_format(value)}"


def _format(value: Any) -> str:
    if isinstance(value, (tuple, list, set, frozenset)):
        items = sorted(map(_format, value)) if isinstance(value, (set, frozenset)) else [
            _format(item) for item in value
        ]
        if len(items) > MAX_LISTED_VALUES:
            items = [*items[:MAX_LISTED_VALUES], f"... {len(items) - MAX_LISTED_VALUES} more"]
        return f"[{', '.join(items)}]"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _actual_text(actual: Any) -> str:
    if is_empty(actual):
        return "empty"
    return f"was {_format(actual)}"
