"""Load balancing follows the workload: closed records and owner changes that arrive as events count."""

from __future__ import annotations

from collections import Counter

from messages import ChangeType
from tests.support.configs import member_id, team_config
from tests.support.events import lead_event
from tests.unit.conftest import Pipeline


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
    assert pipeline.store.team_state("Inbound")["turn"] == 1
