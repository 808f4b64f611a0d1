"""Owners go to Salesforce through simple-salesforce's sObject Collections, over HTTPS to a fake org."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.salesforce.writer import SalesforceOwnerWriter
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.fake_salesforce import FakeOrg, fake_salesforce
from tests.unit.conftest import Pipeline


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
    logs = pipeline.store.assignment_logs(e.routing_id for e in events)
    assert org.owners == {log["record_id"]: log["owner_id"] for log in logs.values()}
    assert pipeline.store.outbox_summary() == {("sent", 1): 50}


def test_503_and_429_are_retried_and_every_owner_is_written_once(pipeline: Pipeline, org: FakeOrg) -> None:
    org.fail_next_calls(503, 429)
    pipeline.send([lead_event(n) for n in range(1, 6)], batch_size=5)
    pipeline.drain()

    assert len(org.calls) == 3
    assert set(org.updates.values()) == {1} and len(org.updates) == 5
    assert pipeline.store.dead_letters() == []


def test_partial_failure_retries_the_locked_row_and_records_the_deleted_one(pipeline: Pipeline, org: FakeOrg) -> None:
    org.fail_record("00Q000000000002AAA", "UNABLE_TO_LOCK_ROW")
    org.fail_record("00Q000000000003AAA", "ENTITY_IS_DELETED")
    pipeline.send([lead_event(n) for n in range(1, 5)], batch_size=4)
    pipeline.drain()

    assert org.updates == {"00Q000000000001AAA": 1, "00Q000000000002AAA": 1, "00Q000000000004AAA": 1}
    assert pipeline.store.outbox_summary() == {("sent", 1): 2, ("sent", 2): 1, ("rejected", 1): 1}


def test_client_credentials_login_at_the_configured_url_gives_a_working_writer() -> None:
    import requests

    from adapters.salesforce.auth import ClientCredentials, connect
    from baton.errors import ConfigError
    from baton.ports import OwnerChange

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
