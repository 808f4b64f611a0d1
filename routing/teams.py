"""Teams and their members, as the org configuration describes them."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PrivateAttr,
    model_validator,
)

from routing.base import Strict
from routing.methods import METHODS, FallbackMethod, Method, TierMethod
from routing.queue_order import QueueOrder

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY_SPELLINGS = ("24:00", "24:00:00")
DEFAULT_BACKFILL_CREDIT_REASONS = ("out of office", "toggled unavailable", "on holiday")
BACKFILL_CREDITABLE_REASONS = frozenset(
    {"out of office", "toggled unavailable", "on holiday", "out of shift"}
)

Scalar = str | int | float | bool


def _known_time_zone(name: str) -> str:
    if name not in _time_zone_names():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - listed but unloadable
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


_ZONES: set[str] = set()


def _time_zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]


@lru_cache(maxsize=1)
def _holiday_regions() -> dict[str, frozenset[str]]:
    return {
        country: frozenset(subdivisions)
        for country, subdivisions in holidays.list_supported_countries().items()
    }


def check_holiday_region(country: str | None, subdivision: str | None) -> None:
    """Raise ValueError unless the holidays library knows this country (and subdivision)."""
    if country is None:
        if subdivision is not None:
            raise ValueError("holiday_subdivision is set without holiday_country")
        return
    regions = _holiday_regions()
    if country not in regions:
        raise ValueError(f"holiday_country {country!r} is not a supported ISO country code")
    if subdivision is not None and subdivision not in regions[country]:
        known = ", ".join(sorted(regions[country])) or "none"
        raise ValueError(
            f"holiday_subdivision {subdivision!r} is not a subdivision of {country} "
            f"(known: {known})"
        )


def _end_of_day(value: Any) -> Any:
    return "00:00" if value in END_OF_DAY_SPELLINGS else value


class TimeRange(Strict):
    """A span of wall-clock time within one day, e.g. ``09:00-17:30``; end ``24:00`` is midnight."""

    start: time
    end: Annotated[time, BeforeValidator(_end_of_day)]

    @property
    def ends_at_midnight(self) -> bool:
        return self.end == time(0)

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if not self.ends_at_midnight and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


WeeklyHours = dict[str, list[TimeRange]]


def _check_weekdays(hours: WeeklyHours | None, what: str) -> None:
    for day in hours or {}:
        if day not in WEEKDAYS:
            raise ValueError(f"{what}: unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")


class Period(Strict):
    """A half-open interval of instants ``[start, end)``, e.g. an out-of-office absence."""

    start: AwareDatetime
    end: AwareDatetime
    reason: str = "out of office"

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Caps(Strict):
    """Most records a member may receive per day, week and month, in their own time zone."""

    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)
    per_month: int | None = Field(default=None, ge=0)


class CriteriaCap(Caps):
    """A cap on matching records: those tagged ``tag``, or whose ``field`` is one of ``equals``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    tag: str | None = None
    field: str | None = None
    equals: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> CriteriaCap:
        if (self.tag is None) == (self.field is None):
            raise ValueError(f"criteria cap {self.name!r}: give exactly one of tag or field")
        if self.field is not None and self.equals is None:
            raise ValueError(f"criteria cap {self.name!r}: field needs equals")
        if self.tag is not None and self.equals is not None:
            raise ValueError(f"criteria cap {self.name!r}: equals goes with field, not tag")
        if self.per_day is None and self.per_week is None and self.per_month is None:
            raise ValueError(f"criteria cap {self.name!r}: set per_day, per_week or per_month")
        return self


class MemberFilter(Strict):
    """Only members whose ``attribute`` matches: a record field's value, a constant, or a list."""

    attribute: str = Field(min_length=1)
    equals_field: str | None = None
    equals: Scalar | None = None
    one_of: list[Scalar] | None = None
    when_field_missing: Literal["pass", "fail"] = "pass"

    @model_validator(mode="after")
    def _one_comparison(self) -> MemberFilter:
        given = [x for x in (self.equals_field, self.equals, self.one_of) if x is not None]
        if len(given) != 1:
            raise ValueError(
                f"member filter on {self.attribute!r}: give exactly one of "
                "equals_field, equals or one_of"
            )
        return self


class DirectOwnerRule(Strict):
    """Lookup or related owner: take the user named by ``field`` when they may take the record."""

    field: str = Field(min_length=1)
    require_member: bool = True
    check_availability: bool = True
    check_caps: bool = True
    count_as_turn: bool = False
    fallback: FallbackMethod = Field(
        default="team_method",
        description="team_method: the team's distribution method (round robin when the team's "
        "method is itself lookup/related owner); hold: keep the record held",
    )


class StickyRule(Strict):
    """Same owner for the same account or email domain when their last record is recent."""

    key: Literal["account", "email_domain"] = "account"
    window_days: float = Field(gt=0)
    check_availability: bool = True
    check_caps: bool = True
    count_as_turn: bool = False


class Backfill(Strict):
    """Members away for a credited reason catch up missed turns, at most ``max_catch_up_turns``."""

    enabled: bool = False
    max_catch_up_turns: int = Field(default=3, ge=1)
    credit_reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_BACKFILL_CREDIT_REASONS))

    @model_validator(mode="after")
    def _known_reasons(self) -> Backfill:
        for reason in self.credit_reasons:
            if reason not in BACKFILL_CREDITABLE_REASONS:
                known = ", ".join(sorted(BACKFILL_CREDITABLE_REASONS))
                raise ValueError(f"backfill: unknown credit reason {reason!r} (use {known})")
        return self


RECORD_COUNTS_BY = ("assigned", "created")
MEETING_COUNTS_BY = ("booked", "meeting_time")


class Fairness(Strict):
    """Fairness over time: what is counted and over which period, how absences are made up, and the lead threshold."""

    counts: Literal["records", "meetings"] = Field(
        default="records",
        description="records: records assigned drive the turn order, calibration and lead threshold; meetings: "
        "the meetings each member hosted this period do (bookings with them as host; needs reset)",
    )
    reset: Literal["day", "week", "month"] | None = Field(
        default=None,
        description="period over which records (or meetings) are counted (team time zone); null: never reset",
    )
    balance: Literal["turns", "calibration"] = Field(
        default="turns",
        description="turns: turn order (plus backfill when enabled); calibration: fewest records for "
        "the weight this period, members away or new credited with their share",
    )
    lead_threshold: int | None = Field(
        default=None,
        ge=0,
        description="a member more than this many records ahead of the least-loaded eligible member "
        "is not offered the record",
    )
    count_by: Literal["assigned", "created", "booked", "meeting_time"] | None = Field(
        default=None,
        description="counting records, assigned (default): a record counts in the period it is assigned in; "
        "created: in the period its CreatedDate falls in (a record created in an earlier period counts for nobody "
        "this period). Counting meetings, booked (default): a meeting counts in the period it was booked in; "
        "meeting_time: in the period it takes place in",
    )
    count_manual_owner_changes: bool = Field(
        default=False,
        description="an owner change made in Salesforce to a member counts against their caps and "
        "period counts (Distribution Engine's enforce cap for manually assigned records)",
    )

    @model_validator(mode="after")
    def _counting(self) -> Fairness:
        if self.meetings and self.reset is None:
            raise ValueError("counts meetings needs a reset (day, week or month): meetings are counted per period")
        allowed = MEETING_COUNTS_BY if self.meetings else RECORD_COUNTS_BY
        if self.count_by is not None and self.count_by not in allowed:
            raise ValueError(
                f"count_by {self.count_by} does not apply when counting {self.counts} "
                f"(use {' or '.join(allowed)})"
            )
        return self

    @property
    def meetings(self) -> bool:
        """Whether meetings hosted, not records assigned, are the period counts."""
        return self.counts == "meetings"

    @property
    def counted_by(self) -> str:
        """``count_by`` or its default: ``booked`` when counting meetings, else ``assigned``."""
        return self.count_by or (MEETING_COUNTS_BY[0] if self.meetings else RECORD_COUNTS_BY[0])

    @property
    def active(self) -> bool:
        """Whether period counts are kept at all (any option set)."""
        return self.reset is not None or self.balance == "calibration" or self.lead_threshold is not None

    @property
    def calibrated(self) -> bool:
        return self.balance == "calibration"


class Rejection(Strict):
    """How the team treats a record a member rejects (``baton reject``, ``POST /v1/records/{object}/{id}/reject``):
    it is routed again without them, and never offered to them again in the same fairness period."""

    counts_toward_fairness: bool = Field(
        default=False,
        description="true: a rejected record still counts for the member who rejected it (period counts and caps); "
        "false: they are credited back, as on a reassign",
    )
    daily_limit: int = Field(
        default=0, ge=0,
        description="rejections one member may make a day (the team's time zone); 0: unlimited",
    )


class Member(Strict):
    id: str = Field(min_length=1, description="Salesforce user id")
    name: str = ""
    email: str | None = None
    timezone: TimeZoneName = "UTC"
    weight: int = Field(default=1, ge=0)
    tier: int = Field(default=1, ge=1)
    skills: frozenset[str] = frozenset()
    attributes: dict[str, Scalar] = Field(default_factory=dict)
    active: bool = True
    shifts: WeeklyHours | None = Field(
        default=None, description="weekday (mon..sun) -> working ranges; None means always"
    )
    out_of_office: list[Period] = Field(default_factory=list)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    caps: Caps = Caps()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    @model_validator(mode="after")
    def _weekday_keys(self) -> Member:
        _check_weekdays(self.shifts, "shifts")
        check_holiday_region(self.holiday_country, self.holiday_subdivision)
        return self


class Team(Strict):
    name: str = Field(min_length=1)
    method: Method = Method.ROUND_ROBIN
    tier_method: TierMethod = "round_robin"
    members: list[Member] = Field(min_length=1)
    timezone: TimeZoneName = "UTC"
    fallback_owner: str | None = None
    hold_max_minutes: int | None = Field(default=None, ge=0)
    closed_days: list[date] = Field(default_factory=list)
    hours: WeeklyHours | None = Field(
        default=None, description="team distribution hours in the team time zone; None = always"
    )
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    skills_from: list[str] = Field(
        default_factory=list, description="fact keys whose values are skills a record requires"
    )
    member_filters: list[MemberFilter] = Field(default_factory=list)
    member_caps: Caps = Field(default=Caps(), description="caps for members who set none")
    criteria_caps: list[CriteriaCap] = Field(default_factory=list)
    lookup_owner: DirectOwnerRule | None = None
    related_owner: DirectOwnerRule = DirectOwnerRule(field="match.owner_id")
    sticky: StickyRule | None = None
    backfill: Backfill = Backfill()
    fairness: Fairness = Fairness()
    rejection: Rejection = Rejection()
    sla_minutes: int | None = Field(
        default=None, ge=1, description="an assigned record not actioned within this is reassigned and escalated"
    )
    lead: str | None = Field(default=None, description="user id of the team lead (SLA escalations go there)")
    order: QueueOrder = Field(
        default=QueueOrder(), description="the order of the records waiting in the team's pull queue"
    )
    _compiled: Any = PrivateAttr(default=None)

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def __eq__(self, other: object) -> bool:
        """Teams with the same configuration are equal, compiled or not."""
        if not isinstance(other, Team):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _consistent(self) -> Team:
        seen: set[str] = set()
        for index, member in enumerate(self.members):
            if member.id in seen:
                raise ValueError(f"members[{index}]: user {member.id!r} is listed twice")
            seen.add(member.id)
        _check_weekdays(self.hours, "hours")
        check_holiday_region(self.holiday_country, self.holiday_subdivision)
        names = [cap.name for cap in self.criteria_caps]
        if len(set(names)) != len(names):
            raise ValueError(f"criteria_caps: names must be unique, got {names}")
        if self.fairness.calibrated and self.backfill.enabled:
            raise ValueError(
                "fairness.balance calibration and backfill.enabled exclude each other: choose one"
            )
        rule = METHODS[self.method].direct_rule
        if rule is not None and getattr(self, rule) is None:
            raise ValueError(f"method {self.method.value} needs a {rule} rule (its field)")
        return self

    def direct_rule(self, method: Method) -> DirectOwnerRule | None:
        """The team's rule naming the owner for a direct-owner ``method`` (None when not set)."""
        rule = METHODS[method].direct_rule
        if rule is None:
            raise ValueError(f"method {method.value} names no owner directly")
        return getattr(self, rule)


def aware(value: datetime) -> datetime:
    """``value`` unchanged when it carries a time zone; ValueError otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value
