"""A dry run predicts what the real run of the same job does, record by record, using the assign stage's own
decision: a record Baton already routed from a newer event stays as it is (stale) in both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dramatiq.brokers.stub import StubBroker

from baton.assignment.reassign import jobs
from baton.assignment.reassign.run import JobContext, run_dry_job, run_job
from kernel.clock import utc_now
from messages import RecordEvent, Source
from messages.records import routing_id_for
from tests.support.configs import member_id, team_config
from tests.support.pipeline import Pipeline

QUEUE_OWNER = "00G000000000001AAA"


def lead_id(number: int) -> str:
    return f"00Q{number:012d}AAA"


def routed_later(number: int) -> RecordEvent:
    """A real-time event for a lead, committed an hour after the job is created."""
    later = utc_now() + timedelta(hours=1)
    return RecordEvent(object_type="Lead", record_id=lead_id(number), fields={"LastName": f"Lead {number}"},
                       source=Source.API, source_event_id=f"rt-{number}", commit_timestamp=later, received_at=later)


def context(pipeline: Pipeline) -> JobContext:
    broker = pipeline.broker
    assert isinstance(broker, StubBroker)
    return JobContext(pipeline.store, broker, pipeline.app.settings, None, pipeline.writer, utc_now,
                      idle=lambda: all(q.unfinished_tasks == 0 for q in broker.queues.values()), sleep=lambda _: None)


def test_a_dry_run_predicts_each_records_owner_including_records_a_newer_event_already_routed(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.apply(team_config(members=3))
    records = tmp_path / "leads.csv"
    records.write_text("Id,LastName,OwnerId\n" + "".join(f"{lead_id(n)},Lead {n},{QUEUE_OWNER}\n" for n in range(1, 9)))
    store = pipeline.store
    dry_job = jobs.create_job(store.administration, jobs.SOURCE_CSV, str(records), "Lead", True, utc_now())
    real_job = jobs.create_job(store.administration, jobs.SOURCE_CSV, str(records), "Lead", False, utc_now())
    pipeline.send([routed_later(2), routed_later(5)])
    pipeline.drain()

    report, rejected = run_dry_job(dry_job, context(pipeline), pipeline.app.ports)
    done = run_job(real_job, context(pipeline))

    predicted = {move.record_id: move.to_owner for move in report.moves}
    routing_ids = {routing_id_for(Source.BATCH, jobs.source_event_id(real_job.id, lead_id(n))): lead_id(n)
                   for n in range(1, 9)}
    assigned = {routing_ids[rid]: d.owner_id for rid, d in done.decisions.items() if d.outcome == "assigned"}
    assert rejected == [] and done.undecided == 0
    assert predicted == assigned and len(assigned) == 6
    assert report.outcomes == {"assigned": 6, "stale": 2}
    assert set(assigned.values()) == {member_id(1), member_id(2), member_id(3)}
