"""The booking section of the org config: meeting types, host pools and per-object defaults."""

from __future__ import annotations

import re
from string import Formatter
from typing import Literal

from pydantic import Field, field_validator, model_validator

from routing.base import Strict
from routing.booking.platforms import PlatformName
from routing.conditions import Condition
from routing.teams import WEEKDAYS, TimeRange

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PoolMode = Literal["manual", "pooled", "round_robin"]
HostKind = Literal["user", "record_owner", "account_owner", "pool"]
HOST_KINDS: tuple[HostKind, ...] = ("user", "record_owner", "account_owner", "pool")
WHO_OBJECTS = frozenset({"Lead", "Contact"})
SUBJECT_VARIABLES = frozenset(
    {
        "meeting_type",
        "guest_name",
        "guest_email",
        "host_name",
        "scheduler_name",
        "record_name",
        "company",
        "duration_minutes",
    }
)
DEFAULT_SUBJECT = "{meeting_type}: {guest_name} with {host_name} (booked by {scheduler_name})"
NAME_PATTERN = r"^[A-Za-z0-9 _.\-]+$"
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
EventFieldValue = str | bool | int | float
# The fields of a booking's Salesforce Event Baton sets itself (baton/booking/chain.py ``event_fields``, and
# ``ShowAs`` when cancelled; a test keeps the two lists together).
EVENT_FIELDS = frozenset({"Subject", "StartDateTime", "EndDateTime", "OwnerId", "WhoId", "WhatId", "Location",
                          "Description", "ShowAs"})


class BookingType(Strict):
    """A kind of meeting: how long, with which buffers, and when it may be booked."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    duration_minutes: int = Field(gt=0, le=24 * 60)
    buffer_before_minutes: int = Field(default=0, ge=0, le=24 * 60)
    buffer_after_minutes: int = Field(default=0, ge=0, le=24 * 60)
    minimum_notice_minutes: int = Field(default=0, ge=0)
    horizon_days: int = Field(default=14, gt=0, le=366)
    slot_step_minutes: int = Field(default=15, gt=0, le=24 * 60)
    working_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    working_hours: TimeRange = TimeRange(start="09:00", end="17:00")  # type: ignore[arg-type]
    meeting_platform: PlatformName = "none"
    event_assigned_to: Literal["host", "scheduler"] = Field(
        default="host", description="the Salesforce Event's Assigned To: the main host, or who booked it")
    event_fields: dict[str, EventFieldValue] = Field(
        default_factory=dict, description="more fields of the Salesforce Event (API name: value), e.g. Type: Meeting")

    @field_validator("event_fields")
    @classmethod
    def _extra_event_fields(cls, fields: dict[str, EventFieldValue]) -> dict[str, EventFieldValue]:
        for name in fields:
            if not FIELD_NAME.match(name):
                raise ValueError(f"{name!r} is not a Salesforce field API name")
            if name in EVENT_FIELDS:
                raise ValueError(f"{name} is set by Baton itself (it sets {', '.join(sorted(EVENT_FIELDS))})")
        return fields

    @field_validator("working_days")
    @classmethod
    def _distinct_days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        if not days:
            raise ValueError("name at least one working day")
        if len(set(days)) != len(days):
            raise ValueError(f"working days are listed twice: {list(days)}")
        return tuple(sorted(days, key=WEEKDAYS.index))

    @model_validator(mode="after")
    def _meeting_fits_a_day(self) -> BookingType:
        start = self.working_hours.start
        end_minutes = (
            24 * 60
            if self.working_hours.ends_at_midnight
            else self.working_hours.end.hour * 60 + self.working_hours.end.minute
        )
        if start.hour * 60 + start.minute + self.duration_minutes > end_minutes:
            raise ValueError(
                f"a {self.duration_minutes}-minute meeting does not fit in the working hours "
                f"{start:%H:%M}-{self.working_hours.end:%H:%M}"
            )
        return self

    @property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.working_days)


class MeetingCaps(Strict):
    """Most meetings a pool member hosts per day and per ISO week, on their own clock."""

    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)


class PoolSettings(Strict):
    """How a team hosts meetings as a pool."""

    team: str = Field(min_length=1, description="a team of the org config")
    mode: PoolMode = "pooled"
    availability_threshold_slots: int = Field(
        default=0, ge=0, description="round robin: open slots in the horizon before adding members"
    )
    reset: Literal["day", "week", "month"] = Field(
        default="month", description="interval over which meetings are counted for fairness"
    )
    count_by: Literal["booked", "meeting_time"] = Field(
        default="booked",
        description="a meeting counts in the period it was booked in, or the one it takes place in",
    )
    balance: Literal["fewest", "calibration"] = Field(
        default="fewest",
        description="fewest: fewest meetings this period; calibration: members away or new are "
        "credited up to the least-loaded present member, so they come back level",
    )
    lead_threshold: int | None = Field(
        default=None,
        ge=0,
        description="a member more than this many meetings ahead of the least-loaded member "
        "(present now) is not shown",
    )
    caps: MeetingCaps = Field(default=MeetingCaps(), description="per-host meeting caps")
    cancelled: Literal["credit_back", "count"] = Field(
        default="credit_back", description="a cancelled meeting no longer counts, or still counts"
    )
    no_show: Literal["count", "exclude"] = Field(
        default="count", description="a meeting marked no-show still counts, or no longer counts"
    )
    host_declines: Literal["cancel", "reroute"] = Field(
        default="cancel",
        description="a host who declines or deletes the calendar event: the booking is cancelled, or "
        "routed again to another free pool member",
    )
    co_host_declines: Literal["release", "replace"] = Field(
        default="replace",
        description="a co-host chosen from this pool (one of a booking's extra_pools) who declines the calendar "
        "event: their time is released and they leave the booking; replace: the pool's free member with the "
        "fewest meetings takes their place, as at booking",
    )
    reschedule: Literal["same_host", "reroute"] = Field(
        default="same_host",
        description="a rescheduled meeting keeps its host when they are free then, or is routed again",
    )

    @model_validator(mode="after")
    def _threshold_for_round_robin(self) -> PoolSettings:
        if self.availability_threshold_slots and self.mode != "round_robin":
            raise ValueError("availability_threshold_slots applies only to mode round_robin")
        return self


class HostOption(Strict):
    """Who hosts: a named user, the record's owner, the matched account's owner, or a pool."""

    kind: HostKind
    user_id: str | None = Field(default=None, min_length=15, max_length=18)
    team: str | None = Field(default=None, min_length=1, description="the pool, for kind pool")

    @model_validator(mode="after")
    def _target_fits_kind(self) -> HostOption:
        if (self.kind == "user") != (self.user_id is not None):
            raise ValueError("user_id goes with kind user, and kind user needs a user_id")
        if (self.kind == "pool") != (self.team is not None):
            raise ValueError("team goes with kind pool, and kind pool needs a team")
        return self

    def describe(self) -> str:
        if self.kind == "user":
            return f"user {self.user_id}"
        if self.kind == "pool":
            return f"pool {self.team}"
        return self.kind.replace("_", " ")


class SuggestedChoice(Strict):
    """A suggested host option and/or meeting type, each of which may be locked."""

    host: HostOption | None = None
    lock_host: bool = Field(default=False, description="no other host may be chosen")
    meeting_type: str | None = None
    lock_meeting_type: bool = Field(default=False, description="no other meeting type may be chosen")

    @model_validator(mode="after")
    def _suggests_something(self) -> SuggestedChoice:
        if self.host is None and self.meeting_type is None:
            raise ValueError("suggest a host, a meeting_type or both")
        if self.lock_host and self.host is None:
            raise ValueError("lock_host needs a host")
        if self.lock_meeting_type and self.meeting_type is None:
            raise ValueError("lock_meeting_type needs a meeting_type")
        return self


class SuggestionRule(SuggestedChoice):
    """When ``when`` holds for the record, suggest this host and/or meeting type."""

    name: str = Field(min_length=1)
    when: Condition


class RelatedOwnerUpdate(Strict):
    """After booking, also give the host the record a lookup field points to."""

    lookup_field: str = Field(min_length=1, description="e.g. AccountId on a Contact")
    owner_field: str = "OwnerId"


class ObjectBooking(Strict):
    """Booking defaults for one object type (Lead, Contact, Account, Opportunity, ...)."""

    default_type: str
    allowed_types: list[str] = Field(default_factory=list, description="empty: every type")
    host_options: list[HostKind] = Field(
        default_factory=lambda: list(HOST_KINDS), description="host choices offered, in order"
    )
    default_host: HostOption = HostOption(kind="record_owner")
    pools: list[str] = Field(default_factory=list, description="pools offered; empty: every pool")
    show_all_availability: bool = Field(
        default=False, description="show every host's free times at once"
    )
    suggestions: list[SuggestionRule] = Field(default_factory=list)
    owner_field: str | None = Field(
        default="OwnerId", description="record field the main host is assigned to; null: none"
    )
    related_owner_updates: list[RelatedOwnerUpdate] = Field(default_factory=list)
    event_relation: Literal["WhoId", "WhatId"] | None = Field(
        default=None, description="how the Salesforce Event points at the record; null: by object"
    )
    page_fields: list[str] = Field(
        default_factory=list, max_length=2,
        description="handoff page: up to two more record fields shown next to name, company and owner",
    )
    guest_email_field: str = Field(
        default="Email", min_length=1, description="handoff page: record field prefilling the guest email"
    )
    instant_handoff: bool = Field(
        default=False, description='handoff page: offer "Meet now" (who in the pool is free right now)'
    )

    @model_validator(mode="after")
    def _consistent(self) -> ObjectBooking:
        if not self.host_options:
            raise ValueError("host_options: offer at least one host option")
        if len(set(self.host_options)) != len(self.host_options):
            raise ValueError(f"host_options: listed twice: {self.host_options}")
        if self.default_host.kind not in self.host_options:
            raise ValueError(
                f"default_host: kind {self.default_host.kind!r} is not in host_options"
            )
        return self

    def relation_field(self, object_type: str) -> str:
        """``WhoId`` for people (Lead, Contact), ``WhatId`` for other records, unless configured."""
        if self.event_relation is not None:
            return self.event_relation
        return "WhoId" if object_type in WHO_OBJECTS else "WhatId"


class SchedulerGrant(Strict):
    """Which records and hosts the schedulers named here may book. Once any grant exists, a scheduler no
    grant names may book nothing; a scheduler in several grants may do what any of them allows."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    users: list[str] = Field(
        min_length=1, description="Salesforce user ids of the schedulers (15 or 18 characters), or '*' for everyone"
    )
    objects: list[str] = Field(default_factory=list, description="object types they may book on; empty: every one")
    pools: list[str] = Field(default_factory=list, description="booking pools whose members they may book")
    hosts: list[str] = Field(default_factory=list, description="other users they may book as host or co-host")

    @field_validator("users", "hosts")
    @classmethod
    def _user_ids(cls, ids: list[str]) -> list[str]:
        for user_id in ids:
            if user_id != "*" and len(user_id) not in (15, 18):
                raise ValueError(f"{user_id!r} is not a 15- or 18-character Salesforce user id")
        return ids

    @property
    def any_host(self) -> bool:
        return not self.pools and not self.hosts


def _subject_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name is not None]


class BookingSettings(Strict):
    types: list[BookingType] = Field(default_factory=list)
    pools: list[PoolSettings] = Field(default_factory=list)
    objects: dict[str, ObjectBooking] = Field(default_factory=dict)
    event_subject: str = DEFAULT_SUBJECT
    schedulers: list[SchedulerGrant] = Field(
        default_factory=list, description="who may book which records and hosts; empty: every scheduler, anything"
    )

    @field_validator("event_subject")
    @classmethod
    def _known_variables(cls, template: str) -> str:
        try:
            names = _subject_fields(template)
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from None
        for name in names:
            if name not in SUBJECT_VARIABLES:
                known = ", ".join(sorted(SUBJECT_VARIABLES))
                raise ValueError(f"unknown variable {{{name}}} (use {known})")
        return template

    def booking_type(self, name: str) -> BookingType:
        for booking_type in self.types:
            if booking_type.name == name:
                return booking_type
        raise KeyError(name)

    def pool(self, team: str) -> PoolSettings:
        for pool in self.pools:
            if pool.team == team:
                return pool
        raise KeyError(team)

    def for_object(self, object_type: str) -> ObjectBooking:
        try:
            return self.objects[object_type]
        except KeyError:
            raise KeyError(object_type) from None

    def subject(self, **variables: object) -> str:
        """The Salesforce Event subject; variables not given render as empty text."""
        values = {name: variables.get(name, "") for name in SUBJECT_VARIABLES}
        return self.event_subject.format_map(values)


def _host_problems(
    host: HostOption, where: str, pools: set[str], teams: set[str]
) -> list[tuple[str, str]]:
    if host.kind != "pool" or host.team is None:
        return []
    if host.team not in teams:
        return [(f"{where}.team", f"unknown team {host.team!r}")]
    if host.team not in pools:
        return [(f"{where}.team", f"team {host.team!r} is not a booking pool (add it to pools)")]
    return []


def _type_problem(name: str | None, where: str, types: set[str]) -> list[tuple[str, str]]:
    if name is None or name in types:
        return []
    return [(where, f"unknown booking type {name!r}")]


def _object_problems(
    object_type: str,
    settings: ObjectBooking,
    types: set[str],
    pools: set[str],
    teams: set[str],
) -> list[tuple[str, str]]:
    where = f"booking.objects.{object_type}"
    problems = _type_problem(settings.default_type, f"{where}.default_type", types)
    for index, name in enumerate(settings.allowed_types):
        problems += _type_problem(name, f"{where}.allowed_types[{index}]", types)
    if settings.allowed_types and settings.default_type not in settings.allowed_types:
        problems.append((f"{where}.default_type", "is not one of allowed_types"))
    for index, team in enumerate(settings.pools):
        if team not in pools:
            problems.append((f"{where}.pools[{index}]", f"team {team!r} is not a booking pool"))
    problems += _host_problems(settings.default_host, f"{where}.default_host", pools, teams)
    for index, rule in enumerate(settings.suggestions):
        problems += _choice_problems(rule, settings, f"{where}.suggestions[{index}]", types, pools, teams)
    return problems


def _choice_problems(
    choice: SuggestedChoice,
    settings: ObjectBooking,
    where: str,
    types: set[str],
    pools: set[str],
    teams: set[str],
) -> list[tuple[str, str]]:
    problems = _type_problem(choice.meeting_type, f"{where}.meeting_type", types)
    if choice.meeting_type in types and settings.allowed_types and choice.meeting_type not in settings.allowed_types:
        problems.append((f"{where}.meeting_type", f"{choice.meeting_type!r} is not one of allowed_types"))
    if choice.host is not None:
        problems += _host_problems(choice.host, f"{where}.host", pools, teams)
        if choice.host.kind not in settings.host_options:
            problems.append((f"{where}.host.kind", f"{choice.host.kind!r} is not in host_options"))
        elif choice.host.kind == "pool" and settings.pools and choice.host.team not in settings.pools:
            problems.append((f"{where}.host.team", f"pool {choice.host.team!r} is not in the object's pools"))
    return problems


def suggested_choice_problems(
    settings: BookingSettings, object_type: str, choice: SuggestedChoice, where: str, team_names: set[str]
) -> list[tuple[str, str]]:
    """What is wrong with a suggestion made outside the booking section (a router graph node's
    ``suggest_booking``) for ``object_type``, each with its path under ``where``."""
    if object_type not in settings.objects:
        return [(where, f"{object_type} has no booking settings (add booking.objects.{object_type})")]
    types = {booking_type.name for booking_type in settings.types}
    pools = {pool.team for pool in settings.pools}
    return _choice_problems(choice, settings.objects[object_type], where, types, pools, team_names)


def booking_problems(settings: BookingSettings, team_names: set[str]) -> list[tuple[str, str]]:
    """Cross-references of the booking section, each with its path in the org config."""
    problems: list[tuple[str, str]] = []
    type_names = [booking_type.name for booking_type in settings.types]
    for index, name in enumerate(type_names):
        if type_names.index(name) != index:
            problems.append((f"booking.types[{index}].name", f"type {name!r} is defined twice"))
    pool_teams = [pool.team for pool in settings.pools]
    for index, team in enumerate(pool_teams):
        if team not in team_names:
            problems.append((f"booking.pools[{index}].team", f"unknown team {team!r}"))
        elif pool_teams.index(team) != index:
            problems.append((f"booking.pools[{index}].team", f"pool {team!r} is defined twice"))
    for object_type, object_settings in settings.objects.items():
        problems += _object_problems(
            object_type, object_settings, set(type_names), set(pool_teams), team_names
        )
    grant_names = [grant.name for grant in settings.schedulers]
    for index, grant in enumerate(settings.schedulers):
        where = f"booking.schedulers[{index}]"
        if grant_names.index(grant.name) != index:
            problems.append((f"{where}.name", f"grant {grant.name!r} is defined twice"))
        for position, object_type in enumerate(grant.objects):
            if object_type not in settings.objects:
                problems.append((f"{where}.objects[{position}]", f"{object_type} has no booking settings"))
        for position, team in enumerate(grant.pools):
            if team not in pool_teams:
                problems.append((f"{where}.pools[{position}]", f"team {team!r} is not a booking pool"))
    return problems
