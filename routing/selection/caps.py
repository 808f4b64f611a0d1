"""Caps: how many records a member received in their current local day, ISO week and month.

Counts live in ``MemberState.counts`` under window keys read on the member's own wall clock:
``d2024-03-31`` (day), ``w2024-W13`` (ISO week), ``m2024-03`` (month); a criteria cap prefixes
its name: ``enterprise:d2024-03-31``. Only capped windows are counted, and a member's keys for
past windows are dropped whenever that member's counts change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routing.teams import Caps, CriteriaCap

DAY, WEEK, MONTH = 0, 1, 2
WINDOW_NAMES = ("day", "week", "month")
CRITERIA_SEPARATOR = ":"

WindowKeys = tuple[str, str, str]
Limits = tuple[tuple[int, int], ...]  # (window, most records)


@dataclass(frozen=True, slots=True)
class CapHit:
    """The cap that stops a member: which one, in which window, at what limit."""

    window: int
    limit: int
    criteria: str | None = None

    def describe(self) -> str:
        prefix = f"{self.criteria} " if self.criteria else ""
        return f"{prefix}{WINDOW_NAMES[self.window]} cap {self.limit} reached"


@dataclass(frozen=True, slots=True)
class CriteriaLimits:
    name: str
    limits: Limits


def window_keys(local_day: date) -> WindowKeys:
    iso = local_day.isocalendar()
    return (
        f"d{local_day.isoformat()}",
        f"w{iso.year}-W{iso.week:02d}",
        f"m{local_day.year}-{local_day.month:02d}",
    )


def limits_of(caps: Caps, defaults: Caps) -> Limits:
    """The member's own caps, each window falling back to the team's default."""
    chosen = (
        caps.per_day if caps.per_day is not None else defaults.per_day,
        caps.per_week if caps.per_week is not None else defaults.per_week,
        caps.per_month if caps.per_month is not None else defaults.per_month,
    )
    return tuple((window, limit) for window, limit in enumerate(chosen) if limit is not None)


def _normalised(value: Any) -> str:
    return str(value).casefold()


def criteria_matching(
    caps: Iterable[CriteriaCap], facts: Mapping[str, Any]
) -> list[CriteriaLimits]:
    """The criteria caps this record counts against."""
    tags = {_normalised(tag) for tag in facts.get("tags") or ()}
    matched: list[CriteriaLimits] = []
    for cap in caps:
        if cap.tag is not None:
            hit = _normalised(cap.tag) in tags
        else:
            value = facts.get(cap.field or "")
            wanted = cap.equals if isinstance(cap.equals, list) else [cap.equals]
            hit = value is not None and _normalised(value) in {_normalised(w) for w in wanted}
        if hit:
            matched.append(CriteriaLimits(cap.name, limits_of(cap, Caps())))
    return matched


def cap_reached(
    counts: Mapping[str, int],
    keys: WindowKeys,
    limits: Limits,
    criteria: list[CriteriaLimits],
) -> CapHit | None:
    """The first cap this member has used up in the current windows, or None."""
    for window, limit in limits:
        if counts.get(keys[window], 0) >= limit:
            return CapHit(window, limit)
    for cap in criteria:
        for window, limit in cap.limits:
            if counts.get(f"{cap.name}{CRITERIA_SEPARATOR}{keys[window]}", 0) >= limit:
                return CapHit(window, limit, cap.name)
    return None


def _window_of(key: str) -> str:
    return key.rpartition(CRITERIA_SEPARATOR)[2]


def counted(
    counts: Mapping[str, int],
    keys: WindowKeys,
    limits: Limits,
    criteria: list[CriteriaLimits],
) -> dict[str, int]:
    """Counts after one more record: capped windows +1, past windows dropped."""
    current = set(keys)
    updated = {key: value for key, value in counts.items() if _window_of(key) in current}
    for window, _ in limits:
        updated[keys[window]] = updated.get(keys[window], 0) + 1
    for cap in criteria:
        for window, _ in cap.limits:
            key = f"{cap.name}{CRITERIA_SEPARATOR}{keys[window]}"
            updated[key] = updated.get(key, 0) + 1
    return updated


def pruned(counts: Mapping[str, int], keys: WindowKeys) -> dict[str, int]:
    """Only the counts of the current windows."""
    current = set(keys)
    return {key: value for key, value in counts.items() if _window_of(key) in current}


def _local_midnight(zone: ZoneInfo, day: date) -> datetime:
    """The first instant of ``day`` on that wall clock (earliest reading if midnight repeats)."""
    first = datetime.combine(day, time(0), tzinfo=zone)
    second = first.replace(fold=1)
    return min(first, second, key=lambda moment: moment.timestamp())


def window_ends(zone: ZoneInfo, local_day: date) -> tuple[datetime, datetime, datetime]:
    """When the member's current day, ISO week and month windows end (their next start)."""
    next_day = local_day + timedelta(days=1)
    next_week = local_day + timedelta(days=7 - local_day.weekday())
    next_month = (local_day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        _local_midnight(zone, next_day),
        _local_midnight(zone, next_week),
        _local_midnight(zone, next_month),
    )
