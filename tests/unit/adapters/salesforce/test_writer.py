"""Owners go to Salesforce through simple-salesforce's sObject Collections, over HTTPS to a fake org."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from adapters.salesforce.writer import SalesforceOwnerWriter
from adapters.store.tables import outbox
from baton.ports import UnconfiguredOwnerWriter
from baton.salesforce.flusher import IN_FLIGHT, flush_outbox
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.clock import utc_now
from messages import Source
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import FLUSH_ATTEMPTS, FLUSH_POLICY, Pipeline


@pytest.fixture
def org(pipeline: Pipeline) -> Iterator[FakeOrg]:
    with fake_salesforce() as (fake, client):
        pipeline.use_writer(SalesforceOwnerWriter(client))
        pipeline.apply(team_config(members=2))
        yield fake


def test_a_batch_of_owners_is_one_collections_call_with_bato_headers(pipeline: Pipeline, org: FakeOrg) -> None:
    events = [lead_event(n) for n in range(1, 51)]
    pipeline.send(events, batch_size=50)
    pipeline.drain()

    assert len(org.calls) == 1
    headers = org.calls[0]["headers"]
    assert headers["Sforce-Auto-Assign"] == "FALSE"
    assert headers["Sforce-Call-Options"] == "client=baton"
    logs = pipeline.store.decisions.assignment_logs(e.routing_id for e in events)
    assert org.owners == {log["record_id"]: log["owner_id"] for log in logs.values()}
    assert pipeline.store.outbox.summary() == {("sent", 1): 50}


def test_503_and_429_are_retried_and_every_owner_is_written_once(pipeline: Pipeline, org: FakeOrg) -> None:
    org.fail_next_calls(503, 429)
    pipeline.send([lead_event(n) for n in range(1, 6)], batch_size=5)
    pipeline.drain()

    assert len(org.calls) == 3
    assert set(org.updates.values()) == {1} and len(org.updates) == 5
    assert pipeline.store.administration.dead_letters() == []


def test_partial_failure_retries_the_locked_row_and_records_the_deleted_one(pipeline: Pipeline, org: FakeOrg) -> None:
    org.fail_record("00Q000000000002AAA", "UNABLE_TO_LOCK_ROW")
    org.fail_record("00Q000000000003AAA", "ENTITY_IS_DELETED")
    pipeline.send([lead_event(n) for n in range(1, 5)], batch_size=4)
    pipeline.drain()

    assert org.updates == {"00Q000000000001AAA": 1, "00Q000000000002AAA": 1, "00Q000000000004AAA": 1}
    assert pipeline.store.outbox.summary() == {("sent", 1): 2, ("sent", 2): 1, ("rejected", 1): 1}


def test_client_credentials_login_at_the_configured_url_gives_a_working_writer() -> None:
    import requests

    from adapters.salesforce.auth import ClientCredentials, connect
    from kernel.errors import ConfigError
    from kernel.ports import OwnerChange

    with fake_salesforce() as (fake, _):
        session = requests.Session()
        session.trust_env, session.verify = False, fake.ca_file
        client = connect(ClientCredentials(fake.url, "consumer-key", fake.client_secret), session)
        results = SalesforceOwnerWriter(client).write([OwnerChange("r1", "Lead", "00Q000000000001AAA",
                                                                   "005000000000001AAA")])
        with pytest.raises(ConfigError, match="invalid client credentials"):
            connect(ClientCredentials(fake.url, "consumer-key", "wrong"), session)

    assert [r.status for r in results] == ["sent"]
    assert fake.owners == {"00Q000000000001AAA": "005000000000001AAA"}


def test_records_arriving_one_by_one_share_collections_calls(pipeline: Pipeline, org: FakeOrg) -> None:
    """Real-time records travel alone through the stages, but the flusher writes them 200 to a call."""
    events = [lead_event(n) for n in range(1, 251)]
    pipeline.send(events, batch_size=1)
    pipeline.drain()

    assert [len(call["payload"]["records"]) for call in org.calls] == [200, 50]
    assert len(org.owners) == 250 and set(org.updates.values()) == {1}


def test_a_failed_second_call_of_a_round_leaves_the_first_calls_owners_written_once(
    pipeline: Pipeline, org: FakeOrg
) -> None:
    org.fail_next_calls(200, 503)
    pipeline.send([lead_event(n) for n in range(1, 251)], batch_size=1)
    pipeline.drain()

    assert [len(call["payload"]["records"]) for call in org.calls] == [200, 50, 50]
    assert len(org.owners) == 250 and set(org.updates.values()) == {1}


def test_a_row_that_keeps_failing_is_dead_lettered_with_its_error_and_replayable(
    pipeline: Pipeline, org: FakeOrg
) -> None:
    org.fail_record("00Q000000000002AAA", *["UNABLE_TO_LOCK_ROW"] * FLUSH_ATTEMPTS)
    pipeline.send([lead_event(1), lead_event(2)], batch_size=2)
    pipeline.drain()

    [letter] = pipeline.store.administration.dead_letters()
    assert letter.stage == "outbox"
    assert "UNABLE_TO_LOCK_ROW" in letter.reason
    assert letter.message == {"record_ids": ["00Q000000000002AAA"]}
    assert pipeline.store.outbox.summary() == {("sent", 1): 1, ("failed", FLUSH_ATTEMPTS): 1}

    assert pipeline.store.outbox.requeue(letter.routing_ids) == 1
    pipeline.flush()
    assert org.updates == {"00Q000000000001AAA": 1, "00Q000000000002AAA": 1}


def test_api_usage_reported_by_salesforce_is_kept_and_logged(pipeline: Pipeline, org: FakeOrg) -> None:
    with capture_logs() as logs:
        pipeline.send([lead_event(1)])
        pipeline.drain()

    usage = pipeline.store.administration.api_usage()
    assert usage is not None
    assert (usage.used, usage.limit) == (1, 15000)
    assert [e["api_usage"] for e in logs if e["event"] == "outbox_flushed"] == ["1/15000"]


def test_batch_job_owners_wait_for_bulk_ingest_not_the_realtime_flusher(pipeline: Pipeline, org: FakeOrg) -> None:
    job_event = lead_event(1).model_copy(update={"source": Source.BATCH, "source_event_id": "job-1:00Q000000000001AAA"})
    pipeline.send([job_event, lead_event(2)])
    pipeline.drain()

    assert list(org.owners) == ["00Q000000000002AAA"]
    assert [row.record_id for row in pipeline.store.outbox.due(utc_now(), "bulk")] == ["00Q000000000001AAA"]


def test_an_expired_session_logs_in_again_and_the_owner_is_written_once(pipeline: Pipeline) -> None:
    import requests

    from adapters.salesforce.auth import ClientCredentials, connect

    with fake_salesforce() as (fake, _):
        session = requests.Session()
        session.trust_env, session.verify = False, fake.ca_file
        logins: list[str] = []

        def login():  # type: ignore[no-untyped-def]
            logins.append("login")
            return connect(ClientCredentials(fake.url, "consumer-key", fake.client_secret), session)

        pipeline.use_writer(SalesforceOwnerWriter(login=login))
        pipeline.apply(team_config(members=2))
        pipeline.send([lead_event(1)])
        fake.fail_next_calls(401)
        pipeline.drain()

    assert logins == ["login", "login"]
    assert fake.updates == {"00Q000000000001AAA": 1}
    assert pipeline.store.outbox.summary() == {("sent", 1): 1}


def test_a_write_whose_answer_was_lost_is_read_back_not_sent_again(pipeline: Pipeline, org: FakeOrg) -> None:
    org.answers_to_drop = 1
    events = [lead_event(n) for n in range(1, 6)]
    pipeline.send(events, batch_size=5)
    pipeline.drain()

    assert set(org.updates.values()) == {1} and len(org.updates) == 5
    queries = [call for call in org.calls if call["method"] == "GET"]
    assert len(queries) == 1 and "OwnerId" in queries[0]["soql"]
    assert pipeline.store.outbox.summary() == {("sent", 2): 5}
    assert pipeline.store.administration.dead_letters() == []


def test_rows_left_in_flight_by_a_stopped_flusher_are_read_back_and_only_missing_owners_written(
    pipeline: Pipeline,
) -> None:
    pipeline.use_writer(UnconfiguredOwnerWriter())
    pipeline.apply(team_config(members=2))
    events = [lead_event(n) for n in range(1, 5)]
    pipeline.send(events, batch_size=4)
    pipeline.drain()
    store = pipeline.store
    owners = {entry["record_id"]: entry["owner_id"] for entry in store.decisions.assignment_logs(
        e.routing_id for e in events).values()}
    with store.engine.begin() as connection:  # a flusher sent these four, then died before it stored the answer...
        connection.execute(sa.update(outbox).values(status="pending", last_error=IN_FLIGHT))
    with fake_salesforce() as (org, client):
        for record_id in ("00Q000000000001AAA", "00Q000000000002AAA"):  # ... and two of them were written
            org.write_owner("Lead", record_id, owners[record_id])

        report = flush_outbox(store.outbox, store.administration, SalesforceOwnerWriter(client), utc_now(),
                              FLUSH_POLICY)

    assert report.sent == 4
    assert dict(org.updates) == {record_id: 1 for record_id in owners}
    assert org.owners == owners
    assert set(store.outbox.statuses([e.routing_id for e in events]).values()) == {"sent"}
