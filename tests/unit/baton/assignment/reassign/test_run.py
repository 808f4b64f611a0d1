"""`baton reassign` as the back office runs it, against a fake org speaking Bulk API 2.0 over HTTPS."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.tables import assignments
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from tests.support.configs import member_id, team_config

ROOT = Path(__file__).resolve().parents[5]
QUEUE_OWNER = "00G000000000001AAA"
EXIT_DEFERRED = 3


def lead_id(number: int) -> str:
    return f"00Q{number:012d}AAA"


def leads(count: int, owner: str = QUEUE_OWNER) -> list[dict[str, str]]:
    return [{"Id": lead_id(n), "OwnerId": owner, "LastName": f"Lead {n}", "Company": f"Company {n}",
             "Country": "Germany"} for n in range(1, count + 1)]


@pytest.fixture
def org(tmp_path: Path) -> Iterator[FakeOrg]:
    with fake_salesforce() as (fake, _):
        fake.bulk.page_size = 100
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")
    upgrade_schema(engine)
    yield Store(engine)
    engine.dispose()


def baton(tmp_path: Path, org: FakeOrg, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (the worktree's code), configured for the fake org."""
    config = tmp_path / "org.yaml"
    config.write_text(team_config(members=3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({
        "PYTHONPATH": str(ROOT), "BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'baton.sqlite3'}",
        "BATON_LOG_LEVEL": "WARNING", "BATON_CONFIG": str(config), "BATON_SALESFORCE_LOGIN_URL": org.url,
        "BATON_SALESFORCE_CLIENT_ID": "consumer-key", "BATON_SALESFORCE_CLIENT_SECRET": org.client_secret,
        "REQUESTS_CA_BUNDLE": org.ca_file, "NO_PROXY": "127.0.0.1", "BATON_BULK_POLL_MS": "5",
        "BATON_MIN_BACKOFF_MS": "10", "BATON_MAX_BACKOFF_MS": "50", "BATON_WORKER_THREADS": "4",
    })
    return subprocess.run([sys.executable, "-m", "baton", "reassign", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)


def job_id_of(result: subprocess.CompletedProcess[str]) -> str:
    first = result.stdout.splitlines()[0]
    assert first.startswith("job "), result.stdout
    return first.split()[1]


def decisions_per_record(store: Store) -> Counter[str]:
    with store.engine.connect() as connection:
        return Counter(row.record_id for row in connection.execute(sa.select(assignments.c.record_id)))


def stored_owners(store: Store) -> dict[str, str]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(assignments.c.record_id, assignments.c.owner_id))
        return {row.record_id: row.owner_id for row in rows}


def test_a_soql_job_routes_each_record_once_and_writes_owners_with_one_ingest_job(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    """300 leads over three results pages (the second answers 503 once, then is read again by its locator)."""
    org.records["Lead"] = leads(300)
    org.bulk.fail_results_page(100, 503)
    result = baton(tmp_path, org, "--soql", "SELECT Id, LastName, Company, Country FROM Lead")

    assert result.returncode == 0, result.stderr[-3000:]
    job = store.administration.reassign_job(job_id_of(result))
    assert job is not None and job.state == "completed" and job.bulk_query_job_id
    assert job.counts["records"] == 300 and job.counts["written_sent"] == 300
    assert set(decisions_per_record(store).values()) == {1} and len(decisions_per_record(store)) == 300
    assert store.decisions.team_decisions("Inbound") == 300
    assert sorted(Counter(stored_owners(store).values()).values()) == [100, 100, 100]
    assert org.owners == stored_owners(store) and set(org.updates.values()) == {1}
    assert {record["OwnerId"] for record in org.records["Lead"]} == {member_id(1), member_id(2), member_id(3)}
    assert len(org.bulk.calls("POST", "query")) == 1 and len(org.bulk.calls("GET", "query")) == 1 + 4
    [ingest] = org.bulk.ingest_jobs()
    assert (ingest["operation"], ingest["object"], ingest["assignmentRuleId"]) == ("update", "Lead", None)
    assert [m for m, _ in org.bulk.calls(kind="ingest")] == ["POST", "PUT", "PATCH", "GET", "GET"]
    assert [c for c in org.calls if "payload" in c] == []  # nothing went through sObject Collections
    assert "Records per owner" in result.stdout and "owner writes: sent 300" in result.stdout


def test_a_csv_job_routes_on_the_files_columns_and_skips_owners_that_do_not_change(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    org.records["Lead"] = leads(6, owner=member_id(1))
    records = tmp_path / "leads.csv"
    records.write_text("Id,LastName,Country,OwnerId\n" + "".join(
        f"{lead['Id']},{lead['LastName']},Germany,{lead['OwnerId']}\n" for lead in org.records["Lead"]))
    result = baton(tmp_path, org, "--csv", str(records), "--object", "Lead")

    assert result.returncode == 0, result.stderr[-3000:]
    owners = stored_owners(store)
    moved = {record_id for record_id, owner in owners.items() if owner != member_id(1)}
    assert len(owners) == 6 and len(moved) == 4
    assert set(org.updates) == moved  # the two records member 1 keeps are not written
    assert org.bulk.calls(kind="query") == []
    job = store.administration.reassign_job(job_id_of(result))
    assert job is not None and (job.counts["written_sent"], job.counts["written_unchanged"]) == (4, 2)


def test_a_dry_run_changes_nothing_and_predicts_the_real_runs_owner_changes(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    org.records["Lead"] = leads(12, owner=member_id(2))
    before = copy.deepcopy(org.records)
    query = "SELECT Id, LastName, Country FROM Lead"
    dry = baton(tmp_path, org, "--soql", query, "--dry-run")

    assert dry.returncode == 0, dry.stderr[-3000:]
    assert org.records == before and org.bulk.ingest_jobs() == [] and org.updates == Counter()
    assert store.outbox.summary() == {} and store.decisions.count_assignments() == 0
    assert store.decisions.team_state("Inbound") in (None, {}) and store.decisions.team_decisions("Inbound") == 0
    moves = dict(line.split("\t")[0:4:3] for line in dry.stdout.splitlines() if line.startswith("00Q"))
    assert len(moves) == 8 and member_id(2) not in moves.values()  # round robin over 3: a third stays with 2
    job = store.administration.reassign_job(job_id_of(dry))
    assert job is not None and job.dry_run and job.counts["would_move"] == 8

    real = baton(tmp_path, org, "--soql", query)
    assert real.returncode == 0, real.stderr[-3000:]
    assert {record_id: owner for record_id, owner in stored_owners(store).items() if owner != member_id(2)} == moves


def test_an_interrupted_job_resumes_by_id_and_assigns_every_record_once(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    """The third results page fails past the client's retries: the job stops after routing two pages."""
    org.records["Lead"] = leads(300)
    org.bulk.fail_results_page(200, 503, 503, 503, 503)
    first = baton(tmp_path, org, "--soql", "SELECT Id, LastName FROM Lead")

    job_id = job_id_of(first)
    assert first.returncode == 1
    assert f"resume it with: baton reassign --resume {job_id}" in first.stderr
    interrupted = store.administration.reassign_job(job_id)
    assert interrupted is not None and interrupted.state == "interrupted" and "503" in (interrupted.error or "")
    assert 0 < store.decisions.count_assignments() <= 200 and org.bulk.ingest_jobs() == []

    resumed = baton(tmp_path, org, "--resume", job_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert job_id_of(resumed) == job_id
    done = store.administration.reassign_job(job_id)
    assert done is not None and done.state == "completed" and done.counts["already_decided"] > 0
    assert len(org.bulk.calls("POST", "query")) == 1  # the same query job's results were read again
    assert set(decisions_per_record(store).values()) == {1} and store.decisions.team_decisions("Inbound") == 300
    assert len(org.updates) == 300 and set(org.updates.values()) == {1}


def test_a_locked_row_is_retried_in_a_second_ingest_job_and_a_deleted_record_is_rejected(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    org.records["Lead"] = leads(10)
    org.fail_record(lead_id(2), "UNABLE_TO_LOCK_ROW")
    records = tmp_path / "leads.csv"
    records.write_text("Id,LastName\n" + "".join(f"{lead_id(n)},Lead {n}\n" for n in range(1, 12)))  # 11 is gone
    result = baton(tmp_path, org, "--csv", str(records))

    assert result.returncode == 1
    assert "ENTITY_IS_DELETED" in result.stderr and lead_id(11) in result.stderr
    assert [len(job["_outcomes"]) for job in org.bulk.ingest_jobs()] == [11, 1]
    assert set(org.updates) == {lead_id(n) for n in range(1, 11)} and set(org.updates.values()) == {1}
    job = store.administration.reassign_job(job_id_of(result))
    assert job is not None and (job.counts["written_sent"], job.counts["written_rejected"]) == (10, 1)
    assert "owner writes: rejected 1, sent 10" in result.stdout


def test_a_job_over_the_api_budget_is_deferred_and_resumes_once_the_org_reports_less(
    tmp_path: Path, org: FakeOrg, store: Store
) -> None:
    """A stale stored usage is asked for again (REST limits), and so is one over the budget when resuming:
    the daily count is a rolling 24 hours and no other process need have reported it since."""
    org.records["Lead"] = leads(5)
    store.administration.save_api_usage(200, 15_000, datetime.now(UTC) - timedelta(hours=1))
    org.bulk.reported_usage = (13_600, 15_000)
    deferred = baton(tmp_path, org, "--soql", "SELECT Id FROM Lead")

    job_id = job_id_of(deferred)
    assert deferred.returncode == EXIT_DEFERRED
    assert "deferred" in deferred.stderr and "13600/15000" in deferred.stderr
    job = store.administration.reassign_job(job_id)
    assert job is not None and job.state == "deferred" and org.bulk.requests == []
    assert [call["path"] for call in org.calls if call["method"] == "GET"] == ["/services/data/v61.0/limits/"]

    org.bulk.reported_usage = (200, 15_000)
    resumed = baton(tmp_path, org, "--resume", job_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(org.updates) == 5


def test_usage_reported_by_an_ingest_job_defers_the_follow_up_round(tmp_path: Path, org: FakeOrg, store: Store) -> None:
    org.records["Lead"] = leads(5)
    org.fail_record(lead_id(3), "UNABLE_TO_LOCK_ROW")
    org.bulk.ingest_usage = (14_000, 15_000)
    deferred = baton(tmp_path, org, "--soql", "SELECT Id FROM Lead")

    job_id = job_id_of(deferred)
    assert deferred.returncode == EXIT_DEFERRED, deferred.stderr[-3000:]
    assert len(org.bulk.ingest_jobs()) == 1 and len(org.updates) == 4
    job = store.administration.reassign_job(job_id)
    assert job is not None and job.state == "deferred"

    org.bulk.ingest_usage = None  # the org asked again on resume: under the budget now
    resumed = baton(tmp_path, org, "--resume", job_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(org.bulk.ingest_jobs()) == 2 and len(org.updates) == 5 and set(org.updates.values()) == {1}
    assert store.decisions.count_assignments() == 5
