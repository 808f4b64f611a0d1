"""``baton stats``: the store's raw figures turned into a report (pure; no I/O).

Latency, per decision in the window:
- ``pipeline``: ``decided_at - enqueued_at``, from the ingress enqueue to the assign stage's decision
  (queue waits and the classify, territory, match and assign stages);
- ``since_event``: ``decided_at - event_at``, from the change in Salesforce (commit time) to the decision;
- ``stages``: each stage's own handler time, from the trace stored with each decision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kernel.ports.operations import Figures

PERCENTILES = (50, 95)
DIRECT_OWNER = "(direct owner)"


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict[str, float | None]:
    return {f"p{pct}": _round(percentile(values, pct)) for pct in PERCENTILES}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def latency(timings: list[tuple[datetime, datetime, str | None, Any]]) -> dict[str, Any]:
    pipeline: list[float] = []
    since_event: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    for decided_at, event_at, enqueued_at, trace in timings:
        enqueued = _parse_time(enqueued_at)
        if enqueued is not None:
            pipeline.append((decided_at - enqueued).total_seconds() * 1000)
        since_event.append((decided_at - event_at).total_seconds() * 1000)
        for step in trace or []:
            if isinstance(step, dict) and step.get("stage"):
                stages[step["stage"]].append(float(step.get("duration_ms") or 0.0))
    return {
        "decisions": len(timings),
        "pipeline": _summary(pipeline),
        "since_event": _summary(since_event),
        "stages": {stage: _summary(values) for stage, values in stages.items()},
    }


def report(figures: Figures) -> dict[str, Any]:
    teams: dict[str, dict[str, Any]] = {}
    for (team, owner), count in sorted(figures.per_member.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))):
        entry = teams.setdefault(team or DIRECT_OWNER, {"total": 0, "members": {}})
        entry["total"] += count
        entry["members"][owner or "-"] = count
    api = None
    if figures.api is not None:
        used, limit, observed_at = figures.api
        api = {"used": used, "limit": limit, "remaining": max(limit - used, 0),
               "share": round(used / limit, 4) if limit else None, "observed_at": observed_at.isoformat()}
    return {
        "since": figures.since.isoformat(),
        "assignments": {"total": sum(figures.per_member.values()), "teams": teams},
        "outcomes": dict(sorted(figures.outcomes.items())),
        "held_now": {"total": sum(figures.held_now.values()), "teams": dict(sorted(figures.held_now.items()))},
        "dead_letters": {"since": dict(sorted(figures.dead_letters.items())),
                         "open": dict(sorted(figures.dead_letters_open.items()))},
        "owner_writes": dict(sorted(figures.outbox.items())),
        "api": api,
        "latency_ms": latency(figures.timings),
    }
