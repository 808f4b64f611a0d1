"""The calls adapters make to Salesforce and the calendar API, counted in prometheus_client's default registry
(served with Baton's own metrics, see :mod:`baton.operations.metrics.instruments`)."""

from __future__ import annotations

from prometheus_client import Counter

CALENDAR_CALLS = Counter(
    "baton_calendar_calls", "Calls to the calendar API (Google Calendar), by operation and result.",
    ["operation", "result"],
)

SALESFORCE_CALLS = Counter(
    "baton_salesforce_api_calls", "Salesforce API calls this process made, by resource (sobjects, composite, "
    "query, jobs, ...) and HTTP status class (2xx, 4xx, 5xx).", ["resource", "status"],
)


def record_calendar_call(operation: str, result: str = "ok") -> None:
    """For calendar adapters: one call to the calendar API (``operation`` e.g. ``freebusy``, ``insert_event``;
    ``result`` e.g. ``ok``, ``conflict``, ``error``)."""
    CALENDAR_CALLS.labels(operation, result).inc()


def record_salesforce_call(resource: str, status_code: int) -> None:
    """One Salesforce API call answered with ``status_code`` (``resource``: the path's first part after the
    API version, e.g. ``sobjects``, ``composite``, ``jobs``)."""
    SALESFORCE_CALLS.labels(resource, f"{status_code // 100}xx").inc()
