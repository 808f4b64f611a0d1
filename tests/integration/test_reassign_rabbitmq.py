"""`baton reassign` as a back office runs it: RabbitMQ, PostgreSQL and ``dramatiq workers`` processes doing
the routing, the fake org answering the Bulk API 2.0 query and ingest over HTTPS."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from adapters.store.tables import assignments
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from tests.integration.conftest import Cluster
from tests.support.configs import member_id, team_config
from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.integration

RECORDS = 300
PAGE_RECORDS = 100
QUEUE_OWNER = "00G000000000001AAA"


def lead_id(number: int) -> str:
    return f"00Q{number:012d}AAA"


@pytest.fixture
def org() -> Iterator[FakeOrg]:
    with fake_salesforce() as (fake, _):
        fake.bulk.page_size = PAGE_RECORDS
        fake.records["Lead"] = [{"Id": lead_id(n), "OwnerId": QUEUE_OWNER, "LastName": f"Lead {n}",
                                 "Country": "Germany"} for n in range(1, RECORDS + 1)]
        yield fake


def reassign(cluster: Cluster, org: FakeOrg, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cluster.env, "BATON_SALESFORCE_LOGIN_URL": org.url, "BATON_SALESFORCE_CLIENT_ID": "consumer-key",
           "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret, "REQUESTS_CA_BUNDLE": org.ca_file,
           "NO_PROXY": "127.0.0.1", "BATON_BULK_POLL_MS": "5"}
    return subprocess.run([sys.executable, "-m", "baton", "reassign", *args], check=False, cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def job_id_of(result: subprocess.CompletedProcess[str]) -> str:
    first = result.stdout.splitlines()[0]
    assert first.startswith("job "), result.stdout + result.stderr
    return first.split()[1]


def decisions_per_record(cluster: Cluster) -> Counter[str]:
    with cluster.store.engine.connect() as connection:
        return Counter(row.record_id for row in connection.execute(sa.select(assignments.c.record_id)))


def test_a_job_routed_by_worker_processes_decides_each_record_once_writes_by_bulk_ingest_and_resumes(
    cluster: Cluster, org: FakeOrg
) -> None:
    """The third results page fails past the client's retries; the resumed job finishes on the fleet."""
    cluster.apply(team_config(members=3))
    cluster.start_worker(threads=4)
    cluster.start_worker(threads=4)
    org.bulk.fail_results_page(2 * PAGE_RECORDS, 503, 503, 503, 503)
    first = reassign(cluster, org, "--soql", "SELECT Id, LastName, Country FROM Lead")

    job_id = job_id_of(first)
    assert first.returncode == 1, first.stderr[-3000:]
    interrupted = cluster.store.administration.reassign_job(job_id)
    assert interrupted is not None and interrupted.state == "interrupted"
    assert org.bulk.ingest_jobs() == []

    resumed = reassign(cluster, org, "--resume", job_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:] + cluster.worker_logs()
    done = cluster.store.administration.reassign_job(job_id)
    assert done is not None and done.state == "completed"
    assert done.counts["records"] == RECORDS and done.counts["written_sent"] == RECORDS
    assert len(org.bulk.calls("POST", "query")) == 1  # the resumed job re-read its own query job's results
    per_record = decisions_per_record(cluster)
    assert len(per_record) == RECORDS and set(per_record.values()) == {1}
    assert cluster.store.decisions.team_decisions("Inbound") == RECORDS
    assert sorted(cluster.store.decisions.owner_counts().values()) == [100, 100, 100]
    assert set(org.updates) == {lead_id(n) for n in range(1, RECORDS + 1)} and set(org.updates.values()) == {1}
    assert {record["OwnerId"] for record in org.records["Lead"]} == {member_id(1), member_id(2), member_id(3)}
    assert [c for c in org.calls if "payload" in c] == []  # owners went by Bulk ingest, not sObject Collections
    assert cluster.store.administration.dead_letters() == []
