"""Teams and their members, as the org configuration describes them."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, model_validator

from routing.base import Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


class Method(StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LOAD_BALANCING = "load_balancing"
    PRIORITY_TIERS = "priority_tiers"


class TimeRange(Strict):
    """A span of wall-clock time within one day, e.g. ``09:00-17:30``."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Period(Strict):
    """A closed interval of instants, e.g. an out-of-office absence."""

    start: datetime
    end: datetime
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


class Member(Strict):
    id: str = Field(min_length=1, description="Salesforce user id")
    name: str = ""
    email: str | None = None
    timezone: TimeZoneName = "UTC"
    weight: int = Field(default=1, ge=0)
    tier: int = Field(default=1, ge=1)
    skills: frozenset[str] = frozenset()
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)
    active: bool = True
    shifts: dict[str, list[TimeRange]] | None = Field(
        default=None, description="weekday (mon..sun) -> working ranges; None means always"
    )
    out_of_office: list[Period] = Field(default_factory=list)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    caps: Caps = Caps()

    @model_validator(mode="after")
    def _weekday_keys(self) -> Member:
        for day in self.shifts or {}:
            if day not in WEEKDAYS:
                raise ValueError(f"shifts: unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
        return self


class Team(Strict):
    name: str = Field(min_length=1)
    method: Method = Method.ROUND_ROBIN
    members: list[Member] = Field(min_length=1)
    timezone: TimeZoneName = "UTC"
    fallback_owner: str | None = None
    hold_max_minutes: int | None = Field(default=None, ge=0)
    closed_days: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_members(self) -> Team:
        seen: set[str] = set()
        for index, member in enumerate(self.members):
            if member.id in seen:
                raise ValueError(f"members[{index}]: user {member.id!r} is listed twice")
            seen.add(member.id)
        return self
