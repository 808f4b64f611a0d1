"""Territories: which territory (and so which team) a record falls in.

A territory lists match rules of up to six kinds. A record matches it when every kind the
territory lists matches (AND across kinds) and, within a kind, any one value does (OR)::

    territories:
      - name: Bay Area
        team: West Enterprise
        priority: 10                 # higher wins; default 0
        countries: [US]              # codes or names, normalised to ISO 3166 alpha-2
        states: [CA, Nevada]         # codes or names; pair them with countries to disambiguate
        postal_codes: ["940*", "94100-94199", "95014"]
        cities: [San Francisco]      # case- and accent-insensitive
        fields: {Industry: [Banking, Insurance]}
        accounts: [001000000000001AAA, Acme Corp]   # account ids or names
      - name: Rest of world
        team: Inbound
        fallback: true               # at most one; no rules; catches what nothing else does

Postal codes (compared upper case, spaces ignored):
- ``SW1*`` is a prefix; a value of digits only (``941``, ``94105``) is a prefix too, so
  ``94105`` also takes ``94105-1234``.
- ``10000-14999`` is a range of equal-length numeric codes: it takes a code whose leading
  digits are exactly that many (``12345``, ``12345-6789``) and lie between both ends inclusive.
- Any other value is a whole code (``SW1A 1AA``) or an outward code: ``SW1A`` takes
  ``SW1A 1AA``, ``K1A`` takes ``K1A 0B1`` (the part before the space, or for a UK or Canadian
  code written without one, all but its last three characters).

Overlaps are decided by, in order:
1. ``priority``, higher first;
2. specificity: the sum of the weights of the rule kinds the territory lists, accounts 32,
   postal codes 16, cities 8, states 4, countries 2, fields 1 (powers of two, so the most
   specific kind decides: a postal territory beats a state + country + city one);
3. postal precision, when both list postal codes: how many leading characters the matching
   value pins down (a whole or outward code: its length + 1; a prefix: its length; a range of
   width w over n digits: n - log10(w), so ``94100-94199`` (3.0) ties ``941*``);
4. name, alphabetically, so the answer never depends on the order of the configuration.

``TerritoryIndex.build`` indexes each territory under its most selective kind (postal code,
then account, city, state, field, country), so ``match`` checks only the territories that can
match instead of all of them.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import Any, Protocol

import pycountry
from pydantic import Field, field_validator, model_validator

from routing.base import Strict
from routing.matching import fold_text, normalize_company, salesforce_id_key
from routing.normalize import country_code

Scalar = str | int | float | bool

KIND_WEIGHTS: dict[str, int] = {
    "accounts": 32,
    "postal_codes": 16,
    "cities": 8,
    "states": 4,
    "countries": 2,
    "fields": 1,
}
FIELD_DIMENSION = "field:"
MAX_COMBINED_KEYS = 4_096

POSTAL_WILDCARD = "*"
POSTAL_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
LEADING_DIGITS = re.compile(r"^\d+")
UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
CA_POSTCODE = re.compile(r"^([A-Z][0-9][A-Z])([0-9][A-Z][0-9])$")
WHOLE_CODE_BONUS = 1.0

DERIVED_COUNTRY = "derived.country"
ADDRESS_PREFIXES = ("", "Billing", "Mailing", "Shipping", "Other")
ADDRESS_PARTS = ("Country", "CountryCode", "State", "StateCode", "PostalCode", "City")
ACCOUNT_ID_FIELDS = ("match.account_id", "AccountId")
ACCOUNT_NAME_FIELDS = ("match.account_name", "Company")
MATCH_OBJECT_FIELD = "match.object"
MATCH_RECORD_FIELD = "match.record_id"
ACCOUNT_ID_PREFIX = "001"
MULTI_PICKLIST_SEPARATOR = ";"
RUNNERS_UP_SHOWN = 3
STATE_CACHE_SIZE = 16_384


# --- postal codes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostalCode:
    """A record's postal code, ready for comparison."""

    compact: str  # upper case, no spaces
    outward: str | None  # "SW1A" of "SW1A 1AA", "K1A" of "K1A 0B1"
    digits: str  # leading digits: "94105" of "94105-1234"

    @classmethod
    def parse(cls, value: Any) -> PostalCode | None:
        if value is None:
            return None
        words = str(value).upper().split()
        compact = "".join(words)
        if not compact:
            return None
        leading = LEADING_DIGITS.match(compact)
        return cls(compact, _outward_code(words, compact), leading.group() if leading else "")


def _outward_code(words: list[str], compact: str) -> str | None:
    if len(words) > 1:
        return words[0]
    for pattern in (UK_POSTCODE, CA_POSTCODE):
        found = pattern.match(compact)
        if found:
            return found.group(1)
    return None


class PostalRule(Protocol):
    precision: float

    def matches(self, code: PostalCode) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class WholeCode:
    """A whole postal code, or an outward code (``SW1A``) taking every code in it."""

    code: str

    @property
    def precision(self) -> float:
        return len(self.code) + WHOLE_CODE_BONUS

    def matches(self, code: PostalCode) -> bool:
        return code.compact == self.code or code.outward == self.code

    def describe(self) -> str:
        return self.code


@dataclass(frozen=True, slots=True)
class PostalPrefix:
    prefix: str

    @property
    def precision(self) -> float:
        return float(len(self.prefix))

    def matches(self, code: PostalCode) -> bool:
        return code.compact.startswith(self.prefix)

    def describe(self) -> str:
        return self.prefix + POSTAL_WILDCARD


@dataclass(frozen=True, slots=True)
class PostalRange:
    """Numeric codes of ``width`` digits from ``low`` to ``high``, both included."""

    low: int
    high: int
    width: int

    @property
    def precision(self) -> float:
        return self.width - math.log10(self.high - self.low + 1)

    def matches(self, code: PostalCode) -> bool:
        return len(code.digits) == self.width and self.low <= int(code.digits) <= self.high

    def describe(self) -> str:
        return f"{self.low:0{self.width}d}-{self.high:0{self.width}d}"


def parse_postal_rule(text: str) -> WholeCode | PostalPrefix | PostalRange:
    """``SW1*`` or ``941`` (prefix), ``10000-14999`` (range), else a whole or outward code."""
    value = " ".join(str(text).upper().split())
    if not value:
        raise ValueError("empty postal code")
    if value.endswith(POSTAL_WILDCARD):
        prefix = value[:-1].replace(" ", "")
        if not prefix or POSTAL_WILDCARD in prefix:
            raise ValueError(f"postal code {text!r}: a prefix needs characters before one final *")
        return PostalPrefix(prefix)
    if POSTAL_WILDCARD in value:
        raise ValueError(f"postal code {text!r}: * may only end a prefix")
    bounds = POSTAL_RANGE.match(value)
    if bounds:
        low, high = bounds.groups()
        if len(low) != len(high):
            raise ValueError(
                f"postal range {text!r}: both ends need the same number of digits"
                f" (for a code that contains a dash, write it as a prefix: '{value}*')"
            )
        if int(low) > int(high):
            raise ValueError(f"postal range {text!r}: the start is after the end")
        return PostalRange(int(low), int(high), len(low))
    compact = value.replace(" ", "")
    return PostalPrefix(compact) if compact.isdigit() else WholeCode(compact)


# --- the territory model --------------------------------------------------------------------------


class Territory(Strict):
    """A territory: its match rules, the team that works it, its priority."""

    name: str = Field(min_length=1)
    team: str = Field(min_length=1)
    priority: int = 0
    fallback: bool = False
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    fields: dict[str, tuple[Scalar, ...]] = Field(default_factory=dict)
    accounts: tuple[str, ...] = ()

    @field_validator("fields", mode="before")
    @classmethod
    def _one_value_or_many(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                key: (item,) if isinstance(item, Scalar) else item for key, item in value.items()
            }
        return value

    @field_validator("fields")
    @classmethod
    def _fields_have_values(
        cls, value: dict[str, tuple[Scalar, ...]]
    ) -> dict[str, tuple[Scalar, ...]]:
        for name, values in value.items():
            if not name.strip():
                raise ValueError("a field rule needs a field name")
            if not values:
                raise ValueError(f"field rule {name!r} lists no values")
        return value

    @field_validator("countries", "states", "postal_codes", "cities", "accounts")
    @classmethod
    def _no_blank_values(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("blank values are not allowed")
        return value

    @field_validator("countries")
    @classmethod
    def _known_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [country for country in value if country_code(country) is None]
        if unknown:
            raise ValueError(f"unknown countries: {', '.join(map(repr, unknown))}")
        return value

    @field_validator("postal_codes")
    @classmethod
    def _valid_postal_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            parse_postal_rule(code)
        return value

    @model_validator(mode="after")
    def _rules_fit_the_kind(self) -> Territory:
        if not self.name.strip():
            raise ValueError("a territory needs a name")
        if self.fallback and self.rule_kinds():
            raise ValueError(
                f"territory {self.name!r}: a fallback takes every record nothing else takes,"
                f" so it cannot have rules ({', '.join(self.rule_kinds())})"
            )
        if not self.fallback and not self.rule_kinds():
            raise ValueError(
                f"territory {self.name!r} has no rules; give it some, or mark it fallback: true"
            )
        return self

    def rule_kinds(self) -> tuple[str, ...]:
        """The rule kinds this territory lists, most specific first."""
        return tuple(kind for kind in KIND_WEIGHTS if not _empty(self, kind))

    @property
    def specificity(self) -> int:
        return sum(KIND_WEIGHTS[kind] for kind in self.rule_kinds())


def _empty(territory: Territory, kind: str) -> bool:
    return not getattr(territory, kind)


class TerritorySet(Strict):
    """The org's territories, validated together (unique names, at most one fallback)."""

    territories: tuple[Territory, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> TerritorySet:
        validate_territories(self.territories)
        return self


def validate_territories(territories: Sequence[Territory]) -> None:
    """Raise ValueError on duplicate names or more than one fallback territory."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for territory in territories:
        key = territory.name.strip().casefold()
        if key in seen:
            repeated.add(territory.name)
        seen.add(key)
    if repeated:
        raise ValueError(f"territory names used more than once: {', '.join(sorted(repeated))}")
    fallbacks = [territory.name for territory in territories if territory.fallback]
    if len(fallbacks) > 1:
        raise ValueError(f"only one territory may be the fallback, found {', '.join(fallbacks)}")


def referenced_teams(territories: Iterable[Territory]) -> set[str]:
    """Team names the territories name, for the org configuration to check they exist."""
    return {territory.team for territory in territories}


# --- normalising states, cities and field values --------------------------------------------------


@lru_cache(maxsize=None)
def _subdivisions(country: str) -> dict[str, tuple[str, str, str]]:
    """Folded code suffix and folded name -> (suffix, name, full code) for a country."""
    found: dict[str, tuple[str, str, str]] = {}
    for subdivision in pycountry.subdivisions.get(country_code=country) or ():
        suffix = subdivision.code.split("-", 1)[1]
        entry = (suffix.casefold(), fold_text(subdivision.name), subdivision.code.casefold())
        found.setdefault(suffix.casefold(), entry)
        found.setdefault(fold_text(subdivision.name), entry)
    return found


@lru_cache(maxsize=STATE_CACHE_SIZE)
def state_keys(state: str, countries: tuple[str, ...]) -> frozenset[str]:
    """Every way a state may be written: as given, and its code, name and ISO 3166-2 code when
    one of ``countries`` has it (``CA`` with US -> ca, california, us-ca)."""
    folded = fold_text(state)
    if not folded:
        return frozenset()
    keys = {folded, state.strip().casefold()}
    for country in countries:
        entry = _subdivisions(country).get(folded) or _subdivisions(country).get(
            state.strip().casefold()
        )
        if entry:
            keys.update(entry)
    return frozenset(keys)


def city_key(city: str) -> str:
    return fold_text(city)


def value_keys(value: Any) -> frozenset[str]:
    """A field value as comparable strings; lists and multi-select picklists give several."""
    if value is None:
        return frozenset()
    if isinstance(value, bool):
        return frozenset({str(value).lower()})
    if isinstance(value, float) and value.is_integer():
        return frozenset({str(int(value))})
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(key for item in value for key in value_keys(item))
    text = str(value)
    parts = text.split(MULTI_PICKLIST_SEPARATOR) if MULTI_PICKLIST_SEPARATOR in text else [text]
    return frozenset(part.strip().casefold() for part in parts if part.strip())


# --- what a record says ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """The parts of a record territories look at, normalised once."""

    country: str | None
    states: frozenset[str]
    postal: PostalCode | None
    city: str | None
    account_ids: frozenset[str]
    account_names: frozenset[str]
    facts: Mapping[str, Any]
    _field_keys: dict[str, frozenset[str]] = field(default_factory=dict)

    def field_keys(self, name: str) -> frozenset[str]:
        """``value_keys`` of a field of the record, computed once per record."""
        keys = self._field_keys.get(name)
        if keys is None:
            keys = self._field_keys[name] = value_keys(self.facts.get(name))
        return keys

    def dimension_keys(self, dimension: str) -> frozenset[str] | tuple[str, ...]:
        """The record's keys for an index dimension (see ``CompiledTerritory.dimensions``)."""
        if dimension == "states":
            return self.states
        if dimension == "countries":
            return (self.country,) if self.country else ()
        if dimension == "cities":
            return (self.city,) if self.city else ()
        return self.field_keys(dimension.removeprefix(FIELD_DIMENSION))

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Place:
        prefix = _address_prefix(facts)
        country = _text(facts.get(DERIVED_COUNTRY))
        country = country.upper() if country else None
        if country is None:
            raw_country = _text(facts.get(prefix + "CountryCode")) or _text(
                facts.get(prefix + "Country")
            )
            country = country_code(raw_country) if raw_country else None
        states: frozenset[str] = frozenset()
        countries = (country,) if country else ()
        for part in ("StateCode", "State"):
            state = _text(facts.get(prefix + part))
            if state:
                states = states | state_keys(state, countries)
        city = _text(facts.get(prefix + "City"))
        return cls(
            country=country,
            states=states,
            postal=PostalCode.parse(facts.get(prefix + "PostalCode")),
            city=city_key(city) if city else None,
            account_ids=_account_ids(facts),
            account_names=_account_names(facts),
            facts=facts,
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _address_prefix(facts: Mapping[str, Any]) -> str:
    """The first address (plain, Billing, Mailing ...) the record fills in at all."""
    for prefix in ADDRESS_PREFIXES:
        if any(facts.get(prefix + part) not in (None, "") for part in ADDRESS_PARTS):
            return prefix
    return ""


def _is_account_record(facts: Mapping[str, Any]) -> bool:
    return str(facts.get("Id") or "").startswith(ACCOUNT_ID_PREFIX)


def _account_ids(facts: Mapping[str, Any]) -> frozenset[str]:
    ids = [facts.get(name) for name in ACCOUNT_ID_FIELDS]
    if facts.get(MATCH_OBJECT_FIELD) == "Account":
        ids.append(facts.get(MATCH_RECORD_FIELD))
    if _is_account_record(facts):
        ids.append(facts.get("Id"))
    return frozenset(key for key in map(salesforce_id_key, map(_text, ids)) if key)


def _account_names(facts: Mapping[str, Any]) -> frozenset[str]:
    names = [facts.get(name) for name in ACCOUNT_NAME_FIELDS]
    if _is_account_record(facts):
        names.append(facts.get("Name"))
    return frozenset(key for key in (normalize_company(_text(n)) for n in names) if key)


# --- compiled territories -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledTerritory:
    """A territory with its rules normalised for fast checks."""

    territory: Territory
    countries: frozenset[str]
    states: frozenset[str]
    postal_rules: tuple[WholeCode | PostalPrefix | PostalRange, ...]
    cities: frozenset[str]
    fields: tuple[tuple[str, frozenset[str]], ...]
    account_ids: frozenset[str]
    account_names: frozenset[str]
    priority: int
    specificity: int

    @classmethod
    def compile(cls, territory: Territory) -> CompiledTerritory:
        countries = tuple(sorted({country_code(c) or "" for c in territory.countries}))
        account_ids = {
            key for key in map(salesforce_id_key, territory.accounts) if key and " " not in key
        }
        return cls(
            territory=territory,
            countries=frozenset(countries),
            states=frozenset(k for s in territory.states for k in state_keys(s, countries)),
            postal_rules=tuple(parse_postal_rule(code) for code in territory.postal_codes),
            cities=frozenset(city_key(city) for city in territory.cities),
            fields=tuple(
                (name, frozenset(k for v in values for k in value_keys(v)))
                for name, values in sorted(territory.fields.items())
            ),
            account_ids=frozenset(account_ids),
            account_names=frozenset(
                n for n in map(normalize_company, territory.accounts) if n
            ),
            priority=territory.priority,
            specificity=territory.specificity,
        )

    def account_keys(self) -> list[tuple[str, str]]:
        return [("id", key) for key in self.account_ids] + [
            ("name", key) for key in self.account_names
        ]

    def dimensions(self) -> list[tuple[str, frozenset[str]]]:
        """The equality kinds the territory lists, as (dimension, keys), few enough to combine.

        While the combinations would exceed ``MAX_COMBINED_KEYS``, the dimension with the most
        keys is left to the check instead of the index.
        """
        dimensions = [
            ("cities", self.cities),
            ("states", self.states),
            ("countries", self.countries),
            *((FIELD_DIMENSION + name, keys) for name, keys in self.fields),
        ]
        dimensions = [(name, keys) for name, keys in dimensions if keys]
        while len(dimensions) > 1 and math.prod(len(k) for _, k in dimensions) > MAX_COMBINED_KEYS:
            dimensions.remove(max(dimensions, key=lambda item: len(item[1])))
        return dimensions

    def precision(self, place: Place) -> float | None:
        """None when the record does not match; else the postal precision (0 without postal)."""
        if self.countries and place.country not in self.countries:
            return None
        if self.states and self.states.isdisjoint(place.states):
            return None
        if self.cities and place.city not in self.cities:
            return None
        if (self.account_ids or self.account_names) and not (
            place.account_ids & self.account_ids or place.account_names & self.account_names
        ):
            return None
        for name, wanted in self.fields:
            if wanted.isdisjoint(place.field_keys(name)):
                return None
        if not self.postal_rules:
            return 0.0
        if place.postal is None:
            return None
        matched = [rule.precision for rule in self.postal_rules if rule.matches(place.postal)]
        return max(matched) if matched else None

    def explain(self, place: Place) -> list[str]:
        """Which value of each rule kind the record matched."""
        parts: list[str] = []
        if self.countries:
            parts.append(f"country {place.country}")
        if self.states:
            shown = sorted(set(self.territory.states))
            parts.append(f"state in {', '.join(shown)}")
        if self.postal_rules and place.postal:
            rules = [r.describe() for r in self.postal_rules if r.matches(place.postal)]
            parts.append(f"postal code {place.postal.compact} in {', '.join(rules)}")
        if self.cities:
            parts.append(f"city {place.city}")
        for name, _ in self.fields:
            parts.append(f"{name} = {place.facts.get(name)!r}")
        if self.account_ids or self.account_names:
            parts.append("named account")
        return parts

    def sort_key(self, precision: float) -> tuple[int, int, float, str]:
        """Smaller is better: priority, then specificity, then postal precision, then name."""
        return (-self.priority, -self.specificity, -precision, self.territory.name)


# --- postal ranges --------------------------------------------------------------------------------


class IntervalTree:
    """Static centred interval tree: which intervals contain a point, in O(log n + found)."""

    __slots__ = ("center", "by_low", "lows", "by_high", "negative_highs", "left", "right")

    def __init__(self, intervals: Sequence[tuple[int, int, int]]) -> None:
        points = sorted(point for low, high, _ in intervals for point in (low, high))
        self.center = points[len(points) // 2]
        here = [item for item in intervals if item[0] <= self.center <= item[1]]
        left = [item for item in intervals if item[1] < self.center]
        right = [item for item in intervals if item[0] > self.center]
        self.by_low = sorted(here, key=lambda item: item[0])
        self.lows = [item[0] for item in self.by_low]
        self.by_high = sorted(here, key=lambda item: -item[1])
        self.negative_highs = [-item[1] for item in self.by_high]
        self.left = IntervalTree(left) if left else None
        self.right = IntervalTree(right) if right else None

    def stab(self, point: int, found: list[int]) -> None:
        """Append the payload of every interval containing ``point`` to ``found``."""
        node: IntervalTree | None = self
        while node is not None:
            if point < node.center:
                count = bisect_right(node.lows, point)
                found.extend(item[2] for item in node.by_low[:count])
                node = node.left
            elif point > node.center:
                count = bisect_right(node.negative_highs, -point)
                found.extend(item[2] for item in node.by_high[:count])
                node = node.right
            else:
                found.extend(item[2] for item in node.by_low)
                node = None


# --- the index ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerritoryMatch:
    """The territory a record falls in (None when none and no fallback), its team, and why.

    ``candidates`` counts the territories checked rule by rule (the fallback not included).
    """

    territory: str | None
    team: str | None
    reasons: list[str]
    candidates: int


class TerritoryIndex:
    """Territories indexed so that ``match`` checks only those that can match.

    A territory with postal codes is indexed by them (whole codes and prefixes in a dict, ranges
    in an interval tree per code length); else one with named accounts by account id and name;
    else by the combination of all its other kinds (city x state x country x field values), so
    a record looks up one key per combination in use instead of scanning a whole state.
    """

    def __init__(self, territories: Sequence[Territory]) -> None:
        validate_territories(territories)
        self._fallback = next((t for t in territories if t.fallback), None)
        self._compiled = [CompiledTerritory.compile(t) for t in territories if not t.fallback]
        self._postal: dict[tuple[str, str], list[int]] = {}
        self._accounts: dict[tuple[str, str], list[int]] = {}
        self._combined: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}
        ranges: dict[int, list[tuple[int, int, int]]] = {}
        for position, compiled in enumerate(self._compiled):
            if compiled.postal_rules:
                for rule in compiled.postal_rules:
                    if isinstance(rule, PostalRange):
                        ranges.setdefault(rule.width, []).append((rule.low, rule.high, position))
                    else:
                        self._postal.setdefault(_postal_key(rule), []).append(position)
            elif compiled.account_ids or compiled.account_names:
                for key in compiled.account_keys():
                    self._accounts.setdefault(key, []).append(position)
            else:
                dimensions = compiled.dimensions()
                by_key = self._combined.setdefault(tuple(name for name, _ in dimensions), {})
                for key in product(*(sorted(keys) for _, keys in dimensions)):
                    by_key.setdefault(key, []).append(position)
        self._prefix_lengths = sorted({len(key) for kind, key in self._postal if kind == "prefix"})
        self._ranges = {width: IntervalTree(items) for width, items in ranges.items()}

    @classmethod
    def build(cls, territories: Iterable[Territory | Mapping[str, Any]]) -> TerritoryIndex:
        """Validate the territories together and index them."""
        return cls(
            [t if isinstance(t, Territory) else Territory.model_validate(t) for t in territories]
        )

    def __len__(self) -> int:
        return len(self._compiled) + (self._fallback is not None)

    def _candidates(self, place: Place) -> set[int]:
        found: list[int] = []
        if place.postal is not None:
            self._postal_candidates(place.postal, found)
        for account_id in place.account_ids:
            found.extend(self._accounts.get(("id", account_id), ()))
        for account_name in place.account_names:
            found.extend(self._accounts.get(("name", account_name), ()))
        for dimensions, by_key in self._combined.items():
            record_keys = [place.dimension_keys(name) for name in dimensions]
            if all(record_keys):
                for key in product(*record_keys):
                    found.extend(by_key.get(key, ()))
        return set(found)

    def _postal_candidates(self, code: PostalCode, found: list[int]) -> None:
        for key in {code.compact, code.outward}:
            if key:
                found.extend(self._postal.get(("code", key), ()))
        for length in self._prefix_lengths:
            if length > len(code.compact):
                break
            found.extend(self._postal.get(("prefix", code.compact[:length]), ()))
        tree = self._ranges.get(len(code.digits))
        if tree is not None:
            tree.stab(int(code.digits), found)

    def match(self, facts: Mapping[str, Any]) -> TerritoryMatch:
        """The territory the record's facts fall in, checking only the indexed candidates."""
        place = Place.from_facts(facts)
        return self._decide(place, self._candidates(place))

    def match_by_scan(self, facts: Mapping[str, Any]) -> TerritoryMatch:
        """Like ``match`` but checking every territory; for tests and audits."""
        place = Place.from_facts(facts)
        return self._decide(place, range(len(self._compiled)))

    def _decide(self, place: Place, positions: Iterable[int]) -> TerritoryMatch:
        checked = 0
        matched: list[tuple[tuple[int, int, float, str], CompiledTerritory]] = []
        for position in positions:
            checked += 1
            compiled = self._compiled[position]
            precision = compiled.precision(place)
            if precision is not None:
                matched.append((compiled.sort_key(precision), compiled))
        if not matched:
            return self._fall_back(checked)
        matched.sort(key=lambda pair: pair[0])
        best_key, best = matched[0]
        territory = best.territory
        reasons = [
            f"territory {territory.name!r} (priority {territory.priority}, specificity"
            f" {territory.specificity}): {'; '.join(best.explain(place))}"
        ]
        runners_up = matched[1 : RUNNERS_UP_SHOWN + 1]
        reasons.extend(_lost_because(best_key, key, other) for key, other in runners_up)
        if len(matched) > RUNNERS_UP_SHOWN + 1:
            reasons.append(f"{len(matched) - RUNNERS_UP_SHOWN - 1} more territories also matched")
        return TerritoryMatch(territory.name, territory.team, reasons, checked)

    def _fall_back(self, checked: int) -> TerritoryMatch:
        nothing = "no territory matched"
        if self._fallback is None:
            return TerritoryMatch(None, None, [nothing, "no fallback territory"], checked)
        reason = f"fallback territory {self._fallback.name!r}"
        return TerritoryMatch(self._fallback.name, self._fallback.team, [nothing, reason], checked)


def _postal_key(rule: WholeCode | PostalPrefix) -> tuple[str, str]:
    return ("prefix", rule.prefix) if isinstance(rule, PostalPrefix) else ("code", rule.code)


def _lost_because(
    best: tuple[int, int, float, str], key: tuple[int, int, float, str], other: CompiledTerritory
) -> str:
    name = other.territory.name
    if key[0] != best[0]:
        why = f"lower priority {other.territory.priority}"
    elif key[1] != best[1]:
        why = f"less specific ({other.territory.specificity})"
    elif key[2] != best[2]:
        why = f"less precise postal code ({-key[2]:.1f})"
    else:
        why = "same priority and specificity, name sorts later"
    return f"also matched {name!r}: {why}"
