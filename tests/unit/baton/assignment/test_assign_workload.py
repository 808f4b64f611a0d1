"""Load balancing follows the workload: closed records and owner changes that arrive as events count."""

from __future__ import annotations

from collections import Counter
from typing import Any

from messages import ChangeType
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline


def test_closed_records_free_their_owner_for_load_balancing(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2, method="load_balancing"))
    pipeline.send([lead_event(n) for n in range(1, 5)])
    pipeline.drain()
    first = {log.record_id: log.owner_id for log in pipeline.sink.published}
    assert Counter(first.values()) == {member_id(1): 2, member_id(2): 2}

    closed = [rid for rid, owner in first.items() if owner == member_id(1)]
    for index, record_id in enumerate(closed, start=1):
        number = int(record_id[3:15])
        event = lead_event(number, event_id=f"close-{number}", IsConverted=True).model_copy(
            update={"change_type": ChangeType.UPDATE, "commit_timestamp": lead_event(number).commit_timestamp.replace(hour=12)}  # type: ignore[union-attr]
        )
        pipeline.send([event])
    pipeline.drain()
    pipeline.sink.published.clear()
    pipeline.send([lead_event(n) for n in range(5, 7)])
    pipeline.drain()

    assert {log.owner_id for log in pipeline.sink.published} == {member_id(1)}


def test_ordinary_update_is_not_routed_and_keeps_the_owner(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2))
    created = lead_event(1)
    pipeline.send([created])
    pipeline.drain()
    update = lead_event(1, event_id="edit", Phone="+44 20 7946 0000").model_copy(
        update={"change_type": ChangeType.UPDATE, "changed_fields": ["Phone"],
                "commit_timestamp": created.commit_timestamp.replace(hour=11)}  # type: ignore[union-attr]
    )
    pipeline.send([update])
    pipeline.drain()

    logs = {log.source_event_id: log for log in pipeline.sink.published}
    assert logs["edit"].outcome.value == "not_routed"
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1


def _owner_change(number: int, owner: str, hour: int) -> object:
    return lead_event(number, event_id=f"manual-{number}", OwnerId=owner).model_copy(update={
        "change_type": ChangeType.UPDATE, "changed_fields": ["OwnerId"],
        "commit_timestamp": lead_event(number).commit_timestamp.replace(hour=hour)})  # type: ignore[union-attr]


def _cap_then_manual_change(pipeline: Pipeline, **options: str) -> dict[str, object]:
    """Member 1 gets lead 1, someone gives it to member 2 in Salesforce, then lead 2 arrives (caps 1 a day)."""
    pipeline.apply(team_config(members=2, member_caps="{per_day: 1}", **options))
    for event in ([lead_event(1)], [_owner_change(1, member_id(2), 11)], [lead_event(2)]):
        pipeline.send(event)  # type: ignore[arg-type]
        pipeline.drain()
    return {log.record_id: log for log in pipeline.sink.published if log.source_event_id != "manual-1"}


def test_a_manual_owner_change_counts_against_caps_when_the_team_says_so(pipeline: Pipeline) -> None:
    logs: dict[str, Any] = _cap_then_manual_change(pipeline, fairness="{count_manual_owner_changes: true}")
    assert logs["00Q000000000001AAA"].owner_id == member_id(1)
    assert logs["00Q000000000002AAA"].outcome.value == "held"  # member 2's manual record used their cap
    assert [s.reason for s in logs["00Q000000000002AAA"].skipped] == ["day cap 1 reached"] * 2


def test_a_manual_owner_change_does_not_count_against_caps_by_default(pipeline: Pipeline) -> None:
    logs: dict[str, Any] = _cap_then_manual_change(pipeline)
    assert logs["00Q000000000002AAA"].owner_id == member_id(2)


def test_a_reassigned_record_credits_its_previous_owner_back(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2, fairness="{reset: month}"))
    pipeline.send([lead_event(1)])
    pipeline.drain()
    again = lead_event(1, event_id="reassign-1").model_copy(update={
        "change_type": ChangeType.REASSIGN,
        "commit_timestamp": lead_event(1).commit_timestamp.replace(hour=12)})  # type: ignore[union-attr]
    pipeline.send([again])
    pipeline.drain()

    log = next(log for log in pipeline.sink.published if log.source_event_id == "reassign-1")
    assert log.owner_id == member_id(2)
    assert f"fairness: previous owner {member_id(1)} credited back (record reassigned)" in log.reasons
    members = pipeline.store.decisions.team_state("Inbound")["members"]
    assert members[member_id(1)].get("period_count", 0) == 0 and members[member_id(2)]["period_count"] == 1
