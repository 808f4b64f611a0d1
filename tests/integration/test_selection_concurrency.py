"""Owner selection stays fair and within caps when 4 worker processes race on one team (real PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Cluster
from tests.integration.test_pipeline_rabbitmq import wait_for_assignments, wait_for_owner_writes
from tests.support.events import lead_event
from tests.support.services import wait_until_drained

pytestmark = pytest.mark.integration

RECORDS = 2_000
CAP_PER_WEEK = 150
CAPPED = "005000000000001AAA"
MEMBERS = [f"005{n:012d}AAA" for n in range(1, 7)]


def capped_team_config() -> str:
    lines = ["teams:", "  - name: Inbound", "    members:"]
    for member in MEMBERS:
        caps = f", caps: {{per_week: {CAP_PER_WEEK}}}" if member == CAPPED else ""
        lines.append(f'      - {{id: "{member}", timezone: UTC{caps}}}')
    return "\n".join(lines) + "\ndefault_team: Inbound\n"


def test_four_workers_race_on_one_team_fairly_within_caps(cluster: Cluster) -> None:
    cluster.apply(capped_team_config())
    for _ in range(4):
        cluster.start_worker(threads=4)
    cluster.start_flusher()
    events = [lead_event(n) for n in range(1, RECORDS + 1)]

    cluster.producer.publish(events, batch_size=10)
    wait_for_assignments(cluster, RECORDS)
    wait_until_drained(cluster.prefix)
    counts = cluster.store.decisions.owner_counts()

    assert sum(counts.values()) == RECORDS
    assert counts[CAPPED] == CAP_PER_WEEK
    uncapped = [counts[m] for m in MEMBERS if m != CAPPED]
    assert max(uncapped) - min(uncapped) <= 1, counts
    wait_for_owner_writes(cluster, RECORDS)
    assert cluster.store.outbox.summary() == {("not_configured", 1): RECORDS}

    cluster.producer.publish(events, batch_size=25)
    wait_until_drained(cluster.prefix)

    assert cluster.store.decisions.owner_counts() == counts
    assert cluster.store.decisions.team_decisions("Inbound") == RECORDS
