"""``--since`` values: a span back from now (``90s``, ``30m``, ``1h``, ``2d``, ``1w``) or an ISO time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kernel.errors import InputError

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """The moment ``text`` names; an ISO time without a zone is UTC. Raises InputError naming the value."""
    span = _SPAN.match(text)
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since {text!r}: not a span like 30m, 1h, 2d or an ISO time "
                         f"like 2026-11-20T09:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_of_day(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day (what ``--today`` means)."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
