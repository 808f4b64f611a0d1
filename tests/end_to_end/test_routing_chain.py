"""The stage chain on a StubBroker: retries, dead letters and redelivery behave as operators rely on."""

from __future__ import annotations

import time
from collections import Counter

import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from baton.chains import all_stages
from messages import Source, StageBatch
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline


def test_every_record_is_assigned_once_in_round_robin_order(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=3))
    pipeline.send([lead_event(n) for n in range(1, 10)], batch_size=4)
    pipeline.drain()

    counts = pipeline.store.decisions.owner_counts()
    assert counts == {member_id(1): 3, member_id(2): 3, member_id(3): 3}
    assert len(pipeline.writer.written) == 9
    assert {log.outcome.value for log in pipeline.sink.published} == {"assigned"}


def test_transient_failures_twice_then_success_route_the_record_once(pipeline: Pipeline) -> None:
    """The write-back stage's log stream fails twice, the stage retries on its own, and the decision is
    published and the owner written once."""
    pipeline.apply(team_config(members=2))
    pipeline.sink.failures = 2
    pipeline.send([lead_event(1)])
    pipeline.drain()

    assert pipeline.sink.calls == 3
    assert [log.record_id for log in pipeline.sink.published] == ["00Q000000000001AAA"]
    assert [change.record_id for change in pipeline.writer.written] == ["00Q000000000001AAA"]
    assert pipeline.store.decisions.count_assignments() == 1
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1
    assert pipeline.store.administration.dead_letters() == []


def test_database_errors_in_assign_are_retried_without_double_counting(pipeline: Pipeline) -> None:
    """Two failed transactions in the assign stage leave no trace; the third assigns each record once."""
    pipeline.apply(team_config(members=2))
    failures = {"left": 2}

    @sa.event.listens_for(pipeline.store.engine, "before_cursor_execute")
    def _fail_assignment_inserts(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "INSERT INTO assignments" in statement and failures["left"]:
            failures["left"] -= 1
            raise sa.exc.OperationalError(statement, parameters, Exception("database is locked"))

    pipeline.send([lead_event(n) for n in range(1, 5)], batch_size=4)
    pipeline.drain()

    assert failures["left"] == 0
    assert pipeline.store.decisions.count_assignments() == 4
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 4
    assert pipeline.store.decisions.owner_counts() == {member_id(1): 2, member_id(2): 2}


def test_permanent_failure_is_dead_lettered_with_its_reason_and_not_retried(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.send_raw("territory", {"batch_id": "b1", "contexts": [], "enqueued_at": "2026-11-20T09:00:00Z"})
    pipeline.drain()

    assert isinstance(pipeline.broker, StubBroker)
    assert len(pipeline.broker.dead_letters) == 1
    [letter] = pipeline.store.administration.dead_letters()
    assert letter.stage == "territory"
    assert "malformed StageBatch message" in letter.reason and "contexts" in letter.reason
    assert "after 0 retries" in letter.reason


def test_unknown_config_version_is_a_permanent_error_naming_the_version(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    batch = StageBatch.model_validate(
        {"batch_id": "b2", "contexts": [{"event": lead_event(1).model_dump(mode="json"), "config_version": 99}],
         "enqueued_at": "2026-11-20T09:00:00Z"}
    )
    pipeline.send_raw("assign", batch.model_dump(mode="json"))
    pipeline.drain()

    [letter] = pipeline.store.administration.dead_letters()
    assert letter.stage == "assign"
    assert "config version 99 is not in the store" in letter.reason


def test_redelivered_message_does_not_bump_round_robin_twice(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=3))
    events = [lead_event(n) for n in range(1, 6)]
    pipeline.send(events)
    pipeline.drain()
    first = pipeline.store.decisions.assignment_logs(e.routing_id for e in events)

    pipeline.send(events)
    pipeline.drain()

    assert pipeline.store.decisions.count_assignments() == 5
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 5
    assert pipeline.store.decisions.assignment_logs(e.routing_id for e in events) == first
    assert len(pipeline.writer.written) == 5


def test_duplicate_inside_one_batch_is_routed_once(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    event = lead_event(1)
    pipeline.send([event, event, lead_event(2)])
    pipeline.drain()

    assert pipeline.store.decisions.count_assignments() == 2
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 2


def test_deliberate_reassignment_gets_its_own_routing_id(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    original = lead_event(1)
    later = original.model_copy(
        update={"source": Source.BATCH, "source_event_id": "job-7:00Q000000000001AAA",
                "commit_timestamp": original.commit_timestamp.replace(hour=10)}  # type: ignore[union-attr]
    )
    pipeline.send([original])
    pipeline.drain()
    pipeline.send([later])
    pipeline.drain()

    owners = Counter(log.owner_id for log in pipeline.sink.published)
    assert pipeline.store.decisions.count_assignments() == 2
    assert owners == {member_id(1): 1, member_id(2): 1}


def test_stale_event_does_not_undo_a_newer_decision(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    newer = lead_event(1, event_id="newer")
    older = lead_event(1, event_id="older", at=newer.commit_timestamp.replace(hour=8))  # type: ignore[union-attr]
    pipeline.send([newer])
    pipeline.drain()
    pipeline.send([older])
    pipeline.drain()

    logs = pipeline.store.decisions.assignment_logs([newer.routing_id, older.routing_id])
    assert logs[newer.routing_id]["outcome"] == "assigned"
    assert logs[older.routing_id]["outcome"] == "stale"
    assert logs[older.routing_id]["owner_id"] == logs[newer.routing_id]["owner_id"]
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1


def test_change_made_by_baton_is_not_routed(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    event = lead_event(1).model_copy(update={"change_origin": "com/salesforce/api/rest/61.0;client=baton"})
    pipeline.send([event])
    pipeline.drain()

    [log] = pipeline.sink.published
    assert log.outcome.value == "not_routed"
    assert pipeline.writer.written == []


def test_a_malformed_message_on_any_stage_is_dead_lettered_naming_the_stage_and_its_message(
    pipeline: Pipeline,
) -> None:
    stages = [stage for _, stage in all_stages()]
    for stage in stages:
        pipeline.send_raw(stage.name, {"unexpected": True})
    for stage in stages:
        pipeline.broker.join(stage.queue(pipeline.app.settings.queue_prefix), timeout=30_000, fail_fast=False)

    deadline = time.monotonic() + 10
    while len(letters := pipeline.store.administration.dead_letters()) < len(stages) and time.monotonic() < deadline:
        time.sleep(0.01)
    reasons = {letter.stage: letter.reason for letter in letters}
    assert sorted(reasons) == sorted(stage.name for stage in stages)
    for stage in stages:
        assert f"{stage.name}: malformed {stage.takes.__name__} message" in reasons[stage.name]
        assert "after 0 retries" in reasons[stage.name]
