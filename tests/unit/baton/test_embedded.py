"""The embedded web process drains its inbox: at start it runs what was accepted and not finished (after a
restart or a ``kill -9``), it runs what other processes on the file stored, and while another process drains
the inbox it stands by and takes over when that process ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from baton import runtime
from baton.chains import ROUTING
from baton.embedded import EmbeddedWork
from baton.inbox import entry
from baton.salesforce.ingest import batches, enqueue
from kernel.clock import utc_now
from tests.support.events import lead_event
from tests.support.inbox import embedded_application, inbox_rows, wait_for
from tests.support.stores import another_process_holding

ROUTED = [(stage.name, "done") for stage in ROUTING.stages]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[runtime.Runtime]:
    with embedded_application(tmp_path) as application:
        yield application


def accepted_by_an_ended_run(app: runtime.Runtime, *numbers: int, run: str | None = "killed-run") -> list[str]:
    """Classify messages of these leads as a web process stored them before it was killed (``run`` held them)
    or as a process that does not drain stored them (``run`` None); their routing ids."""
    actor = app.broker.get_actor(ROUTING.first.name)
    events = [lead_event(number) for number in numbers]
    for number, batch in enumerate(batches(events, 1, utc_now())):
        message = actor.message(batch.model_dump(mode="json"))
        app.ports.store.inbox.accept(entry(message), utc_now() - timedelta(minutes=5 - number), run)
    return [event.routing_id for event in events]


def decided(app: runtime.Runtime, routing_ids: list[str]) -> int:
    return len(app.ports.store.decisions.assignment_logs(routing_ids))


def test_at_start_the_drainer_runs_what_was_accepted_and_not_finished(app: runtime.Runtime) -> None:
    routing_ids = accepted_by_an_ended_run(app, 1, 2) + accepted_by_an_ended_run(app, 3, run=None)
    work = EmbeddedWork(app, poll_s=3600)  # only the claim at start
    work.start()
    try:
        assert work.draining
        assert wait_for(lambda: decided(app, routing_ids) == 3)
        assert wait_for(lambda: app.ports.store.inbox.pending() == 0)
    finally:
        work.stop()
    assert app.ports.store.decisions.count_assignments() == 3


def test_what_a_process_that_does_not_drain_stored_is_run_by_the_drainer(app: runtime.Runtime,
                                                                         tmp_path: Path) -> None:
    work = EmbeddedWork(app, poll_s=0.05)
    work.start()
    try:
        with embedded_application(tmp_path) as second:  # another web process on the same file, not draining
            enqueue(second.broker, [lead_event(1)], 100, utc_now())
        assert wait_for(lambda: decided(app, [lead_event(1).routing_id]) == 1)
        assert wait_for(lambda: [(actor, status) for actor, status, _ in inbox_rows(app.ports.store.engine)] == ROUTED)
    finally:
        work.stop()


def test_while_another_process_drains_this_one_stands_by_and_takes_over_when_it_is_killed(
    app: runtime.Runtime
) -> None:
    with another_process_holding(app.ports.store.engine) as holder, capture_logs() as logs:
        work = EmbeddedWork(app, poll_s=0.05)
        work.start()
        try:
            assert not work.draining
            enqueue(app.broker, [lead_event(1)], 100, utc_now())
            assert inbox_rows(app.ports.store.engine) == [("classify", "pending", None)]
            [told] = [log for log in logs if log["event"] == "inbox_drained_by_another_process"]
            assert told["lock_file"].endswith("baton.sqlite3.inbox.lock")
            holder.kill()
            holder.wait(30)
            assert wait_for(lambda: decided(app, [lead_event(1).routing_id]) == 1)
            assert work.draining
        finally:
            work.stop()


def test_a_stopped_drainer_gives_the_lock_back_and_the_next_one_runs_what_it_left(app: runtime.Runtime) -> None:
    first = EmbeddedWork(app, poll_s=3600)
    first.start()
    first.stop()
    assert not first.draining and not first.lock.held
    routing_ids = accepted_by_an_ended_run(app, 1, run=first.run_id)

    second = EmbeddedWork(app, poll_s=3600)
    second.start()
    try:
        assert wait_for(lambda: decided(app, routing_ids) == 1)
    finally:
        second.stop()


def test_a_stored_message_of_a_stage_this_version_lacks_is_dead_lettered_not_run(app: runtime.Runtime) -> None:
    [routing_id] = accepted_by_an_ended_run(app, 1)
    with app.ports.store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE inbox SET actor_name = 'retired', queue_name = 'baton-inbox.retired'")
    work = EmbeddedWork(app, poll_s=3600)
    work.start()
    work.stop()

    [letter] = app.ports.store.administration.dead_letters()
    assert letter.stage == "retired" and "no stage 'retired'" in letter.reason
    assert inbox_rows(app.ports.store.engine) == [("retired", "dead_lettered", work.run_id)]
    assert decided(app, [routing_id]) == 0
