"""A small SOQL subset for the fake Salesforce server: parse a query, then run it over plain dicts.

    SELECT Field[, Parent.Field ...] FROM Object
      [WHERE condition]
      [ORDER BY Field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
      [LIMIT n]

A condition compares a field with a value (``= != <> < <= > >= LIKE``), tests membership
(``IN (...)``, ``NOT IN (...)``), and combines with ``AND``, ``OR``, ``NOT`` and parentheses. Values:
'strings' (backslash escapes), numbers, ``true``/``false``/``null``, dateTime literals
(``2026-11-20T09:00:00Z``, optional fraction, ``+hh:mm`` offsets) and date literals (``2026-11-20``).
Keywords and field names are case-insensitive, as in Salesforce; a dotted name reads a nested
relationship object (``Owner.IsActive`` reads ``{"Owner": {"IsActive": ...}}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]

DATETIME_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})"
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
_TOKENS = re.compile(
    rf"""\s*(?:
        (?P<datetime>{DATETIME_PATTERN})
      | (?P<date>{DATE_PATTERN})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<symbol>!=|<>|<=|>=|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_DATETIME_VALUE = re.compile(rf"^{DATETIME_PATTERN}$")
_DATE_VALUE = re.compile(rf"^{DATE_PATTERN}$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
NULL = object()  # the literal ``null``: equal only to a missing or null field


class SoqlError(ValueError):
    """A query outside the subset, or malformed; ``code`` is the Salesforce errorCode."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    object_name: str
    where: Predicate | None
    order_by: tuple[OrderKey, ...]
    limit: int | None

    def run(self, records: Sequence[Record]) -> list[Record]:
        """The matching records, ordered and limited (not yet projected)."""
        found = [record for record in records if self.where is None or self.where(record)]
        for key in reversed(self.order_by):  # stable sorts, last key first
            present = [r for r in found if field_value(r, key.field) is not None]
            missing = [r for r in found if field_value(r, key.field) is None]
            present.sort(key=lambda r: _sortable(field_value(r, key.field)), reverse=key.descending)
            found = present + missing if key.nulls_last else missing + present
        return found if self.limit is None else found[: self.limit]


def _tokens(text: str) -> list[Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKENS.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError(f"unexpected character at {position}: {text[position:position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self._tokens = _tokens(text)
        self._at = 0

    def _peek(self) -> Token | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _next(self, what: str) -> Token:
        token = self._peek()
        if token is None:
            raise SoqlError(f"unexpected end of query, expected {what}")
        self._at += 1
        return token

    def _expect_word(self, *words: str) -> None:
        token = self._next(" ".join(words))
        if not token.is_word(*words):
            raise SoqlError(f"expected {' or '.join(words)}, found {token.text!r}")

    def _accept_word(self, *words: str) -> bool:
        token = self._peek()
        if token is not None and token.is_word(*words):
            self._at += 1
            return True
        return False

    def _accept_symbol(self, symbol: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "symbol" and token.text == symbol:
            self._at += 1
            return True
        return False

    def _field(self) -> str:
        token = self._next("a field name")
        if token.kind != "word":
            raise SoqlError(f"expected a field name, found {token.text!r}")
        return token.text

    def query(self) -> Query:
        self._expect_word("SELECT")
        fields = [self._field()]
        while self._accept_symbol(","):
            fields.append(self._field())
        self._expect_word("FROM")
        object_name = self._field()
        where = self._or() if self._accept_word("WHERE") else None
        order_by: list[OrderKey] = []
        if self._accept_word("ORDER"):
            self._expect_word("BY")
            order_by.append(self._order_key())
            while self._accept_symbol(","):
                order_by.append(self._order_key())
        limit = None
        if self._accept_word("LIMIT"):
            token = self._next("a number")
            if token.kind != "number" or not token.text.isdigit():
                raise SoqlError(f"LIMIT needs a whole number, found {token.text!r}")
            limit = int(token.text)
        if self._peek() is not None:
            raise SoqlError(f"unexpected {self._peek().text!r} after the query")  # type: ignore[union-attr]
        return Query(tuple(fields), object_name, where, tuple(order_by), limit)

    def _order_key(self) -> OrderKey:
        field = self._field()
        descending = self._accept_word("DESC")
        if not descending:
            self._accept_word("ASC")
        nulls_last = descending
        if self._accept_word("NULLS"):
            nulls_last = self._accept_word("LAST")
            if not nulls_last:
                self._expect_word("FIRST")
        return OrderKey(field, descending, nulls_last)

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._accept_word("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda record: any(part(record) for part in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._accept_word("AND"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda record: all(part(record) for part in parts))

    def _not(self) -> Predicate:
        if self._accept_word("NOT"):
            inner = self._not()
            return lambda record: not inner(record)
        if self._accept_symbol("("):
            inner = self._or()
            if not self._accept_symbol(")"):
                raise SoqlError("missing )")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        field = self._field()
        if self._accept_word("NOT"):
            self._expect_word("IN")
            values = self._value_list()
            return lambda record: not _in(field_value(record, field), values)
        if self._accept_word("IN"):
            values = self._value_list()
            return lambda record: _in(field_value(record, field), values)
        if self._accept_word("LIKE"):
            pattern = self._value()
            if not isinstance(pattern, str):
                raise SoqlError("LIKE needs a string")
            regex = _like_regex(pattern)
            return lambda record: isinstance(value := field_value(record, field), str) and bool(regex.match(value))
        token = self._next("an operator")
        if token.kind != "symbol" or token.text not in COMPARISONS:
            raise SoqlError(f"expected an operator after {field}, found {token.text!r}")
        return _compare(field, token.text, self._value())

    def _value_list(self) -> list[Any]:
        if not self._accept_symbol("("):
            raise SoqlError("IN needs a parenthesised list")
        values = [self._value()]
        while self._accept_symbol(","):
            values.append(self._value())
        if not self._accept_symbol(")"):
            raise SoqlError("missing ) after the IN list")
        return values

    def _value(self) -> Any:
        token = self._next("a value")
        if token.kind == "string":
            return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token.text[1:-1])
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "datetime":
            return parse_datetime(token.text)
        if token.kind == "date":
            return date.fromisoformat(token.text)
        if token.is_word("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if token.is_word("NULL"):
            return NULL
        raise SoqlError(f"expected a value, found {token.text!r}")


def parse(text: str) -> Query:
    return _Parser(text).query()


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC)


def field_value(record: Record, path: str) -> Any:
    """A field by case-insensitive API name; dotted names walk into relationship objects."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(field_key(current, part))
    return current


def field_key(record: Record, name: str) -> str:
    """The record's own spelling of a field name (Salesforce field names ignore case)."""
    if name in record:
        return name
    return next((key for key in record if key.lower() == name.lower()), name)


def _typed(value: Any, like: Any) -> Any:
    """The record's value in the literal's type: dateTime and date fields are strings on the wire."""
    if isinstance(value, str) and isinstance(like, datetime):
        return parse_datetime(value)
    if isinstance(value, str) and isinstance(like, date):
        return date.fromisoformat(value[:10])
    if isinstance(like, bool) or isinstance(value, bool):
        return value
    if isinstance(like, (int, float)) and isinstance(value, str):
        return float(value)
    return value


def _compare(field: str, operator: str, literal: Any) -> Predicate:
    def test(record: Record) -> bool:
        value = field_value(record, field)
        if literal is NULL:
            return value is None if operator == "=" else (value is not None and operator in {"!=", "<>"})
        if value is None:  # SOQL, unlike SQL: a null field is "not equal" to any value
            return operator in {"!=", "<>"}
        return COMPARISONS[operator](_typed(value, literal), literal)

    return test


def _in(value: Any, literals: list[Any]) -> bool:
    return any(value is None if lit is NULL else value is not None and _typed(value, lit) == lit for lit in literals)


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _sortable(value: Any) -> Any:
    if isinstance(value, str) and _DATETIME_VALUE.match(value):
        return parse_datetime(value)
    if isinstance(value, str) and _DATE_VALUE.match(value):
        return date.fromisoformat(value)
    return value
