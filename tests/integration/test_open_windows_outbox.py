"""Race tests of the open outbox and loop-guard windows (issue 19: 4, 5, 6 and 9), each a strict expected
failure at its final check until its window closes.

The owner-write windows run the real flusher (as ``baton flush`` builds it) and the real owner writer against
the fake Salesforce, on PostgreSQL, with a clock the test steps; the dead-letter and change-event windows run
real ``dramatiq`` workers and ``baton listen`` on RabbitMQ and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from adapters.salesforce.session import UNREACHABLE
from adapters.store import Store, make_engine
from baton import runtime
from baton.clock import utc_now
from messages import ChangeType, RecordEvent
from tests.support.events import lead_event
from tests.support.fake_salesforce import FakeOrg
from tests.support.outbox_windows import SteppedClock, default_flusher, run_flusher, salesforce_unavailable
from tests.support.windows import assert_window_closed, open_window
from tests.unit.conftest import Pipeline, running_pipeline
from tests.unit.test_salesforce_writeback import org  # noqa: F401 - the fake org behind the real owner writer

pytestmark = pytest.mark.integration
OUTAGE = timedelta(minutes=10)
AFTER_THE_OUTAGE = timedelta(hours=1)


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(postgres_url, pg_schema), pg_schema) as pipeline:
        yield pipeline


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(utc_now())


# 4. an older owner overwrites a newer one -----------------------------------------------------------------
def reassignment(event: RecordEvent) -> RecordEvent:
    """A later request to route the same record again (its next decision names the other rep)."""
    return event.model_copy(update={
        "change_type": ChangeType.REASSIGN, "source_event_id": f"{event.source_event_id}:reassign",
        "commit_timestamp": event.event_time() + timedelta(minutes=1),
        "received_at": event.received_at + timedelta(minutes=1)})


def decided_owner(store: Store, event: RecordEvent) -> str:
    return str(store.assignment_logs([event.routing_id])[event.routing_id]["owner_id"])


def newest_decision(store: Store, event: RecordEvent) -> str | None:
    """Baton's newest decision for the event's record (its record state)."""
    with store.transaction() as tx:
        state = tx.record_states([(event.object_type, event.record_id)]).get((event.object_type, event.record_id))
    return state.owner_id if state else None


def older_write_fails_then_newer_is_written(pipeline: Pipeline, org: FakeOrg, clock: SteppedClock,
                                            first_write_fails: Callable[[FakeOrg], None]) -> tuple[str, str]:
    """Owner A's first write fails (``first_write_fails`` arranges how), then a newer decision B for the same
    record is written; returns (A, B). Every step is asserted: the scenario really happened."""
    older = lead_event(1)
    pipeline.send([older])
    pipeline.route()
    flusher = default_flusher(runtime.current(), clock)
    first_write_fails(org)
    assert flusher.tick() is not None
    assert pipeline.store.outbox_statuses([older.routing_id]) == {older.routing_id: "pending"}

    newer = reassignment(older)
    pipeline.send([newer])
    pipeline.route()
    owner_a, owner_b = decided_owner(pipeline.store, older), decided_owner(pipeline.store, newer)
    assert owner_a != owner_b and newest_decision(pipeline.store, older) == owner_b
    report = flusher.tick()  # the same moment: A waits for its retry, B is written
    assert report is not None and report.sent == 1 and org.owners[older.record_id] == owner_b
    return owner_a, owner_b


def retry_the_older_write(pipeline: Pipeline, clock: SteppedClock) -> None:
    """The flusher runs on until nothing waits for a retry (A's retry comes due within a second)."""
    run_flusher(default_flusher(runtime.current(), clock), pipeline.store, clock, clock() + timedelta(hours=1))
    assert pipeline.store.due_outbox(clock()) == []


def newest_decision_in_salesforce(store: Store, org: FakeOrg, owner_a: str,
                                  owner_b: str) -> tuple[bool, dict[str, object]]:
    """(the record's owner in Salesforce is Baton's newest decision for it, what was seen)."""
    record = lead_event(1)
    newest = newest_decision(store, record)
    owner = org.owners[record.record_id]
    return owner == newest, {"salesforce_owner": owner, "newest_decision": newest, "older": owner_a,
                             "newer": owner_b, "writes": org.updates[record.record_id]}


@open_window("an older owner retried after UNABLE_TO_LOCK_ROW overwrites a newer decision in Salesforce")
def test_an_owner_retried_after_a_lock_error_never_overwrites_a_newer_decision(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """A's write meets UNABLE_TO_LOCK_ROW, B is written, A's retry must not replace B in Salesforce."""
    record = lead_event(1).record_id
    owner_a, owner_b = older_write_fails_then_newer_is_written(
        pipeline, org, clock, lambda fake: fake.fail_record(record, "UNABLE_TO_LOCK_ROW"))
    assert org.updates[record] == 1  # only B reached the record so far

    retry_the_older_write(pipeline, clock)

    kept, evidence = newest_decision_in_salesforce(pipeline.store, org, owner_a, owner_b)
    assert_window_closed(kept, "older owner overwrote the newer decision", evidence)


@open_window("an older owner whose write outcome was unknown is re-sent after a newer decision was written")
def test_an_owner_read_back_after_a_lost_answer_never_overwrites_a_newer_decision(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """A's write is carried out but its answer is lost, B is written, A's read-back must not re-send A over B."""
    record = lead_event(1).record_id

    def answer_lost(fake: FakeOrg) -> None:
        fake.answers_to_drop = 1

    owner_a, owner_b = older_write_fails_then_newer_is_written(pipeline, org, clock, answer_lost)
    [older_row] = pipeline.store.due_outbox(clock() + timedelta(minutes=1))
    assert str(older_row["last_error"]).startswith(UNREACHABLE)  # the outcome of A's write is unknown
    assert org.updates[record] == 2  # A was carried out, then B

    retry_the_older_write(pipeline, clock)

    kept, evidence = newest_decision_in_salesforce(pipeline.store, org, owner_a, owner_b)
    assert_window_closed(kept, "read-back re-sent an older owner over the newer decision", evidence)


# 5. a Salesforce outage dead-letters owner writes --------------------------------------------------------
@open_window("a Salesforce outage dead-letters owner writes after about two minutes (max_attempts)")
def test_owner_writes_wait_out_a_ten_minute_salesforce_outage(
    pipeline: Pipeline, org: FakeOrg, clock: SteppedClock
) -> None:
    """Salesforce answers 503 to everything for 10 minutes: the owners wait, and are written once it is back."""
    events = [lead_event(n) for n in range(1, 6)]
    pipeline.send(events, batch_size=5)
    pipeline.route()
    flusher = default_flusher(runtime.current(), clock)
    outage_starts = clock()
    outage_ends = outage_starts + OUTAGE

    with salesforce_unavailable(org):
        ticks = run_flusher(flusher, pipeline.store, clock, outage_ends)
        assert org.http_faults, "some call in the outage was not answered 503"
    assert ticks >= 2 and len(org.calls) >= 2 and not org.owners  # the flusher tried, and only met 503s
    clock.advance_to(outage_ends)
    run_flusher(flusher, pipeline.store, clock, outage_ends + AFTER_THE_OUTAGE)

    decided = {event.record_id: decided_owner(pipeline.store, event) for event in events}
    letters = pipeline.store.dead_letters()
    assert_window_closed(org.owners == decided and not letters, "owners dead-lettered in a 10-minute outage",
                         {"written": len(org.owners), "decided": len(decided),
                          "dead_lettered": [(str(letter.failed_at - outage_starts), letter.reason[:90])
                                            for letter in letters],
                          "outbox": pipeline.store.outbox_summary()})
