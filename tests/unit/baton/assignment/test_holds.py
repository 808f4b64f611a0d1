"""Records nobody can take are held with the reason, re-checked from the store, then routed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baton.assignment.holds import recheck_due_holds
from messages import RoutingContext, StageBatch
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

FALLBACK = "005000000000099AAA"


def later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def hold_one(pipeline: Pipeline, **team_options: object) -> str:
    pipeline.apply(team_config(members=1, **team_options))
    pipeline.store.decisions.set_member_available(member_id(1), False, datetime.now(UTC))
    event = lead_event(1)
    pipeline.send([event])
    pipeline.drain()
    return event.routing_id


def test_record_is_held_with_its_reason_when_nobody_can_take_it(pipeline: Pipeline) -> None:
    routing_id = hold_one(pipeline)

    [hold] = pipeline.store.holds.held()
    log = pipeline.store.decisions.assignment_logs([routing_id])[routing_id]
    assert log["outcome"] == "held" and log["owner_id"] is None
    assert hold.routing_id == routing_id and hold.team == "Inbound"
    assert "unavailable" in hold.reason
    assert pipeline.writer.written == []


def test_held_record_is_routed_when_the_member_becomes_available(pipeline: Pipeline) -> None:
    routing_id = hold_one(pipeline)
    pipeline.store.decisions.set_member_available(member_id(1), True, datetime.now(UTC))

    sent = recheck_due_holds(pipeline.store.holds, pipeline.broker, later())
    pipeline.drain()

    log = pipeline.store.decisions.assignment_logs([routing_id])[routing_id]
    assert sent == 1
    assert (log["outcome"], log["owner_id"]) == ("assigned", member_id(1))
    assert pipeline.store.holds.held() == []
    assert [c.record_id for c in pipeline.writer.written] == ["00Q000000000001AAA"]
    assert recheck_due_holds(pipeline.store.holds, pipeline.broker, later()) == 0


def test_recheck_that_still_finds_nobody_keeps_the_hold_for_later(pipeline: Pipeline) -> None:
    hold_one(pipeline)

    recheck_due_holds(pipeline.store.holds, pipeline.broker, later())
    pipeline.drain()

    [hold] = pipeline.store.holds.held()
    assert hold.checks == 1
    assert hold.recheck_at > datetime.now(UTC)


def test_redelivered_recheck_assigns_once(pipeline: Pipeline) -> None:
    hold_one(pipeline)
    pipeline.store.decisions.set_member_available(member_id(1), True, datetime.now(UTC))
    [hold] = pipeline.store.holds.held()

    recheck_due_holds(pipeline.store.holds, pipeline.broker, later())
    pipeline.drain()
    duplicate = StageBatch(batch_id="again", contexts=[RoutingContext.model_validate(hold.context)],
                           enqueued_at=datetime.now(UTC), recheck=True)
    pipeline.send_raw("assign", duplicate.model_dump(mode="json"))
    pipeline.drain()

    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1
    assert len(pipeline.writer.written) == 1


def test_hold_past_the_team_wait_goes_to_the_fallback_owner(pipeline: Pipeline) -> None:
    routing_id = hold_one(pipeline, hold_max_minutes=0, fallback_owner=f'"{FALLBACK}"')

    recheck_due_holds(pipeline.store.holds, pipeline.broker, later())
    pipeline.drain()

    log = pipeline.store.decisions.assignment_logs([routing_id])[routing_id]
    assert (log["outcome"], log["owner_id"], log["method"]) == ("assigned", FALLBACK, "fallback_owner")
    assert pipeline.store.holds.held() == []


def test_held_records_re_checked_together_go_in_the_teams_order(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=1, order="{by: field, field: Score__c, direction: descending}")
                   .replace('name: "Rep 1"}', 'name: "Rep 1", caps: {per_day: 1}}'))
    pipeline.store.decisions.set_member_available(member_id(1), False, datetime.now(UTC))
    events = [lead_event(1, Score__c=10), lead_event(2, Score__c=90), lead_event(3, Score__c=50)]
    pipeline.send(events)
    pipeline.drain()
    assert len(pipeline.store.holds.held()) == 3
    pipeline.store.decisions.set_member_available(member_id(1), True, datetime.now(UTC))

    assert recheck_due_holds(pipeline.store.holds, pipeline.broker, later()) == 3
    pipeline.drain()

    assert pipeline.store.decisions.owner_counts() == {member_id(1): 1}
    assert [change.record_id for change in pipeline.writer.written] == [events[1].record_id]  # the highest score
