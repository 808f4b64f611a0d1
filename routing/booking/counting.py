"""The interval over which a pool's meetings are counted for "fewest meetings"."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

from routing.booking.slots import zone


def count_window_start(
    reset: Literal["day", "week", "month"], now: datetime, time_zone: str
) -> datetime:
    """Start (UTC) of the current day, week (Monday) or calendar month on that zone's clock."""
    local = now.astimezone(zone(time_zone)).date()
    if reset == "week":
        local -= timedelta(days=local.weekday())
    elif reset == "month":
        local = local.replace(day=1)
    return datetime.combine(local, time(0), tzinfo=zone(time_zone)).astimezone(UTC)
