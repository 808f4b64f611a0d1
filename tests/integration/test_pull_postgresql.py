"""Pull queues on this machine's PostgreSQL: the pull tests of the unit suite again, and two members pulling
at the same moment from one queue, in two threads, never get the same record (the team's row lock and the
queue's ``FOR UPDATE SKIP LOCKED``): every record is assigned exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from adapters.store import make_engine
from baton import runtime
from baton.assignment.ports import AssignmentPorts
from baton.assignment.pull import pull
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline, running_pipeline
from tests.unit.baton.assignment.test_pull import *
from tests.unit.baton.assignment.test_pull import REP_1, REP_2, pull_config, queue

pytestmark = pytest.mark.integration

RECORDS = 30
DEADLINE_S = 60


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


def test_two_members_pulling_at_once_never_get_the_same_record(pipeline: Pipeline) -> None:
    events = [lead_event(number, Language__c="en") for number in range(1, RECORDS + 1)]
    queue(pipeline, *events, config=pull_config())
    ports = AssignmentPorts.of(pipeline.app.ports)
    start = threading.Barrier(2, timeout=DEADLINE_S)
    got: dict[str, list[str]] = {REP_1: [], REP_2: []}
    failures: list[BaseException] = []

    def rep(member: str) -> None:
        try:
            start.wait()
            while (pulled := pull("Queue", member, ports)).log is not None:
                got[member].append(pulled.log.record_id)
        except BaseException as exc:  # noqa: BLE001 (reported by the test below)
            failures.append(exc)

    threads = [threading.Thread(target=rep, args=(member,)) for member in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S)

    assert failures == [] and not any(thread.is_alive() for thread in threads)
    pulled = Counter(got[REP_1] + got[REP_2])
    assert set(pulled) == {event.record_id for event in events}
    assert max(pulled.values()) == 1  # no record went to both
    assert got[REP_1] and got[REP_2]  # both pulled: the pulls ran side by side
    assert pipeline.store.holds.held() == []
    logs = pipeline.store.decisions.assignment_logs([event.routing_id for event in events])
    owners = {log["record_id"]: log["owner_id"] for log in logs.values() if log["outcome"] == "assigned"}
    assert owners == {record: member for member, records in got.items() for record in records}
    assert pipeline.store.decisions.team_decisions("Queue") == RECORDS
