"""Baton's own metrics, and the small functions that count into them.

Counters and histograms live in prometheus_client's default registry (or, in ``dramatiq workers``, in the
shared multiprocess directory). Gauges read from the store (held records, stored dead letters, API budget)
are collected at scrape time by :mod:`baton.operations.metrics.store_gauges`; the adapters count their own API calls
(:mod:`adapters.call_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Histogram

NONE_LABEL = "none"
STAGE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

ASSIGNMENTS = Counter(
    "baton_assignments", "Routing decisions by team, distribution method and outcome.",
    ["team", "method", "outcome"],
)
DEAD_LETTERS = Counter("baton_dead_letters", "Messages dead-lettered, per stage.", ["stage"])
STAGE_DURATION = Histogram(
    "baton_stage_duration_seconds", "Time a stage spent on one message (a batch of records), per stage.",
    ["stage", "result"], buckets=STAGE_BUCKETS_S,
)
STAGE_RECORDS = Counter("baton_stage_records", "Records handled, per stage.", ["stage"])
def record_assignments(logs: Iterable[Mapping[str, Any]]) -> None:
    """Counts assignment logs (``AssignmentLog.model_dump`` dicts) by team, method and outcome."""
    for log in logs:
        ASSIGNMENTS.labels(log.get("team") or NONE_LABEL, log.get("method") or NONE_LABEL,
                           log.get("outcome") or NONE_LABEL).inc()


def record_stage(stage: str, duration_s: float, records: int, failed: bool) -> None:
    STAGE_DURATION.labels(stage, "error" if failed else "ok").observe(duration_s)
    if records:
        STAGE_RECORDS.labels(stage).inc(records)


def record_dead_letter(stage: str) -> None:
    DEAD_LETTERS.labels(stage).inc()
