"""Gauges read from the store when scraped: held records, stored dead letters, owner writes waiting for
Salesforce, Salesforce API budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters.store import Store
from adapters.store.tables import dead_letters, holds
from baton.salesforce.backlog import oldest_age
from kernel.clock import utc_now

OUTBOX_CHANNELS = ("realtime", "bulk")  # always reported, so an alert's series exists while nothing waits

log = structlog.get_logger(__name__)


class StoreGauges(Collector):
    """What the store knows now. A scrape while the database is down reports ``baton_store_up 0``."""

    def __init__(self, store: Callable[[], Store]):
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("baton_store_up", "1 when the store answered this scrape.")
        try:
            families = list(self._read(self._store()))
        except Exception as exc:  # noqa: BLE001 (a scrape must answer even when the database does not)
            log.warning("metrics_store_unreadable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    @staticmethod
    def _read(store: Store) -> Iterator[GaugeMetricFamily]:
        with store.engine.connect() as connection:
            held = connection.execute(sa.select(holds.c.team, sa.func.count()).group_by(holds.c.team)).all()
            letters = connection.execute(
                sa.select(dead_letters.c.stage, sa.func.count())
                .where(dead_letters.c.replayed_at.is_(None)).group_by(dead_letters.c.stage)
            ).all()
        held_family = GaugeMetricFamily("baton_held_records", "Records held now (nobody can take them), per team.",
                                        labels=["team"])
        for team, count in held:
            held_family.add_metric([team], count)
        yield held_family
        letter_family = GaugeMetricFamily("baton_dead_letters_stored",
                                          "Dead letters in the store not yet replayed, per stage.", labels=["stage"])
        for stage, count in letters:
            letter_family.add_metric([stage], count)
        yield letter_family
        yield from _outbox_families(store)
        usage = store.administration.api_usage()
        if usage is not None:
            yield GaugeMetricFamily("baton_salesforce_api_requests_used",
                                    "Salesforce daily API requests used, as the org last reported them.",
                                    value=usage.used)
            yield GaugeMetricFamily("baton_salesforce_api_requests_limit",
                                    "Salesforce daily API request limit.", value=usage.limit)
            yield GaugeMetricFamily("baton_salesforce_api_requests_remaining",
                                    "Salesforce daily API requests left today.", value=max(usage.limit - usage.used, 0))
            yield GaugeMetricFamily("baton_salesforce_api_usage_observed_timestamp_seconds",
                                    "When Salesforce last reported the API usage.",
                                    value=usage.observed_at.timestamp())


def _outbox_families(store: Store) -> Iterator[GaugeMetricFamily]:
    backlog = store.outbox.backlog()
    now = utc_now()
    pending = GaugeMetricFamily("baton_outbox_pending_writes", "Owner writes waiting for Salesforce, per channel.",
                                labels=["channel"])
    oldest = GaugeMetricFamily("baton_outbox_oldest_pending_age_seconds",
                               "How long the oldest owner write waiting for Salesforce has waited (0 when none "
                               "waits), per channel.", labels=["channel"])
    for channel in dict.fromkeys((*OUTBOX_CHANNELS, *backlog)):
        found = backlog.get(channel)
        pending.add_metric([channel], found.rows if found else 0)
        oldest.add_metric([channel], oldest_age(found, now).total_seconds())
    yield pending
    yield oldest
