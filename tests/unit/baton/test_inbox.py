"""The embedded default's broker with an inbox: a message is stored before it is queued (so before the Ack or
202), nothing is queued or acknowledged when it cannot be stored, and each message's row is finished once its
actor finished or it was dead-lettered into the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from baton import runtime
from baton.chains import ROUTING
from baton.embedded import EmbeddedWork
from baton.inbox import InboxBroker, InboxUnavailable
from baton.salesforce.ingest import enqueue
from entrypoints.http.app import create_app
from kernel.clock import utc_now
from tests.support.events import lead_event
from tests.support.inbox import embedded_application, inbox_rows, wait_for
from tests.support.outbound import XML, envelope, notification
from tests.support.pipeline import FlakySink

ROUTED = [(stage.name, "done") for stage in ROUTING.stages]
OUTBOUND = "/salesforce/outbound/path-token"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[runtime.Runtime]:
    with embedded_application(tmp_path) as application:
        yield application


@pytest.fixture
def running(app: runtime.Runtime) -> Iterator[EmbeddedWork]:
    work = EmbeddedWork(app, poll_s=0.05)
    work.start()
    try:
        yield work
    finally:
        work.stop()


def broker_of(app: runtime.Runtime) -> InboxBroker:
    assert isinstance(app.broker, InboxBroker)
    return app.broker


def statuses(app: runtime.Runtime) -> list[tuple[str, str]]:
    return [(actor, status) for actor, status, _ in inbox_rows(app.ports.store.engine)]


def queued(app: runtime.Runtime) -> int:
    return sum(queue.qsize() for queue in broker_of(app).queues.values())


def test_a_draining_process_stores_a_message_before_it_queues_it(app: runtime.Runtime) -> None:
    broker_of(app).drainer = "this-run"

    enqueue(app.broker, [lead_event(1)], 100, utc_now())

    assert inbox_rows(app.ports.store.engine) == [("classify", "pending", "this-run")]
    assert queued(app) == 1


def test_a_process_that_does_not_drain_stores_the_message_for_the_drainer_and_queues_nothing(
    app: runtime.Runtime
) -> None:
    enqueue(app.broker, [lead_event(1)], 100, utc_now())

    assert inbox_rows(app.ports.store.engine) == [("classify", "pending", None)]
    assert queued(app) == 0


def test_the_ack_comes_after_the_outbound_message_is_stored(app: runtime.Runtime) -> None:
    answer = TestClient(create_app(app)).post(OUTBOUND, content=envelope(notification(1)), headers=XML)

    assert answer.status_code == 200 and "<Ack>true</Ack>" in answer.text
    assert statuses(app) == [("classify", "pending")]


def test_when_the_inbox_cannot_store_nothing_is_queued_and_salesforce_gets_no_ack(app: runtime.Runtime) -> None:
    broker_of(app).drainer = "this-run"
    with app.ports.store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE inbox"))

    with pytest.raises(InboxUnavailable, match="the inbox could not store the message"):
        enqueue(app.broker, [lead_event(1)], 100, utc_now())
    answer = TestClient(create_app(app)).post(OUTBOUND, content=envelope(notification(1)), headers=XML)

    assert queued(app) == 0
    assert answer.status_code == 503 and "<Ack>true</Ack>" not in answer.text


def test_each_stage_message_is_done_once_its_actor_finished(app: runtime.Runtime, running: EmbeddedWork) -> None:
    enqueue(app.broker, [lead_event(1)], 100, utc_now())

    assert wait_for(lambda: statuses(app) == ROUTED), statuses(app)
    assert app.ports.store.decisions.count_assignments() == 1
    assert app.ports.store.inbox.pending() == 0


def test_a_retried_message_keeps_one_row_pending_until_its_retry_finished(tmp_path: Path) -> None:
    sink = FlakySink(failures=2)  # the writeback stage's log publish fails twice, then succeeds
    with embedded_application(tmp_path, sink=sink) as app:
        work = EmbeddedWork(app, poll_s=0.05)
        work.start()
        try:
            enqueue(app.broker, [lead_event(1)], 100, utc_now())
            assert wait_for(lambda: statuses(app) == ROUTED), statuses(app)
        finally:
            work.stop()
        assert sink.calls == 3 and len(sink.published) == 1
        assert app.ports.store.administration.dead_letters() == []


def test_a_message_failed_for_good_is_dead_lettered_into_the_store_then_finished(
    app: runtime.Runtime, running: EmbeddedWork
) -> None:
    app.broker.get_actor(ROUTING.first.name).send({"batch_id": "b1", "contexts": "not a list"})

    assert wait_for(lambda: statuses(app) == [("classify", "dead_lettered")]), statuses(app)
    [letter] = app.ports.store.administration.dead_letters()
    assert letter.stage == "classify"


def test_a_message_whose_dead_letter_could_not_be_stored_is_let_go_for_the_drainer_to_run_again(
    app: runtime.Runtime
) -> None:
    work = EmbeddedWork(app, poll_s=3600)  # no second claim within the test
    work.start()
    try:
        with app.ports.store.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE dead_letters"))
        app.broker.get_actor(ROUTING.first.name).send({"batch_id": "b1", "contexts": "not a list"})
        assert wait_for(lambda: inbox_rows(app.ports.store.engine) == [("classify", "pending", None)]), \
            inbox_rows(app.ports.store.engine)
    finally:
        work.stop()
