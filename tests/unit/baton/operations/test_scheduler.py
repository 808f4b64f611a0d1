"""The scheduler: SLA breaches are reassigned and escalated, actioned records are left alone, out-of-office
ends and new cap windows re-check held records. Frozen clocks throughout."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from baton.assignment.sla_sink import SlaTimerSink, timers_for
from baton.configs import ConfigProvider
from baton.notify.notifier import owner_notifications
from baton.operations.scheduler import Scheduler
from kernel.errors import TransientError
from kernel.ports.holds import LatestActivity, SlaTimer
from messages import AssignmentLog, ChangeType, Outcome, RecordEvent, Source
from messages.notifications import Notification
from routing.config import load_config_text as load_config
from routing.member_changes import ChangeKind, member_changes
from routing.sla import Verdict, sla_verdict
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

REP_1, REP_2, LEAD = "005000000000001AAA", "005000000000002AAA", "005000000000009AAA"
RECORD = "00Q000000000001AAA"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclasses.dataclass
class FrozenClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class RecordingReader:
    """Salesforce's current records (the port a SOQL re-read fills in production)."""

    records: dict[str, dict[str, Any]]
    asked: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)

    def by_ids(self, object_type: str, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        self.asked.append((object_type, list(record_ids)))
        return [self.records[rid] for rid in record_ids if rid in self.records]

    def modified_since(self, object_type: str, since: datetime) -> list[dict[str, Any]]:
        return []


def sla_config(sla_minutes: int = 30, **member_extra: str) -> str:
    extra = "".join(f", {key}: {value}" for key, value in member_extra.items())
    return f"""
teams:
  - name: Inbound
    sla_minutes: {sla_minutes}
    lead: "{LEAD}"
    members:
      - {{id: "{REP_1}", name: "Rep 1"{extra}}}
      - {{id: "{REP_2}", name: "Rep 2"}}
default_team: Inbound
"""


def timer(assigned_at: datetime = NOW, minutes: int = 30) -> SlaTimer:
    return SlaTimer("r1", "Lead", RECORD, "Inbound", REP_1, assigned_at, assigned_at + timedelta(minutes=minutes))


def test_a_record_not_actioned_by_its_deadline_is_breached_and_waits_before() -> None:
    assert sla_verdict(timer(), None, NOW + timedelta(minutes=29)) is Verdict.WAITING
    assert sla_verdict(timer(), None, NOW + timedelta(minutes=30)) is Verdict.BREACHED
    assert sla_verdict(timer(), LatestActivity("r1", NOW), NOW + timedelta(minutes=31)) is Verdict.BREACHED


def test_a_later_change_by_someone_else_counts_as_actioned_but_baton_s_own_write_does_not() -> None:
    later = NOW + timedelta(minutes=5)
    assert sla_verdict(timer(), LatestActivity("r2", later), NOW + timedelta(minutes=31)) is Verdict.ACTIONED
    assert sla_verdict(timer(), LatestActivity("r2", later, by_baton=True), NOW + timedelta(minutes=31)) \
        is Verdict.BREACHED
    earlier = NOW - timedelta(minutes=5)
    assert sla_verdict(timer(), LatestActivity("r2", earlier), NOW + timedelta(minutes=31)) is Verdict.BREACHED


def test_out_of_office_start_and_end_are_reported_once_in_the_round_they_fall_in() -> None:
    config = load_config(sla_config(out_of_office='[{start: "2026-11-23T10:05:00+00:00", '
                                                  'end: "2026-11-23T12:00:00+00:00"}]'))
    first = member_changes(config, NOW, NOW + timedelta(minutes=10))
    assert [(c.kind, c.member_id) for c in first] == [(ChangeKind.OOO_STARTED, REP_1)]
    assert member_changes(config, NOW + timedelta(minutes=10), NOW + timedelta(hours=1)) == []
    [ended] = member_changes(config, NOW + timedelta(hours=1), NOW + timedelta(hours=3))
    assert (ended.kind, ended.at, ended.frees_capacity) == (ChangeKind.OOO_ENDED, NOW.replace(hour=12), True)


def test_cap_windows_start_at_the_member_s_own_midnight_and_monday() -> None:
    config = load_config(sla_config(timezone="America/New_York", caps="{per_day: 5, per_week: 20}"))
    sunday_evening = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Sunday 23:00 in New York
    changes = member_changes(config, sunday_evening, sunday_evening + timedelta(hours=2))
    new_york_midnight = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert sorted((c.detail, c.at) for c in changes) == [("new day cap window", new_york_midnight),
                                                          ("new week cap window", new_york_midnight)]
    assert member_changes(config, NOW, NOW + timedelta(hours=2)) == []  # no midnight anywhere for REP_1 then


def _sla_pipeline(pipeline: Pipeline, clock: FrozenClock) -> None:
    current = pipeline.app
    sink = SlaTimerSink(pipeline.sink, current.ports.configs, pipeline.store.sla_timers)
    ports = dataclasses.replace(current.ports, sink=sink, clock=clock)
    current.settings, current.ports = current.settings, ports


def _scheduler(pipeline: Pipeline, clock: FrozenClock, reader: RecordingReader | None,
               sent: list[Notification]) -> Scheduler:
    return Scheduler(pipeline.store.holds, pipeline.store.sla_timers, pipeline.broker,
                     ConfigProvider(pipeline.store.administration, 0), clock, bookings=pipeline.store.bookings,
                     reader=(lambda: reader) if reader else None, notify=sent.append, channels=["email"])


def test_a_breached_record_is_reassigned_through_the_graph_and_the_team_lead_is_told(pipeline: Pipeline) -> None:
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    pipeline.apply(sla_config())
    pipeline.send([lead_event(1)])
    pipeline.drain()
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}

    reader = RecordingReader({RECORD: {"Id": RECORD, "LastName": "Lead 1", "Company": "Company 1",
                                       "OwnerId": REP_1, "LastModifiedById": "005000000000099AAA"}})
    sent: list[Notification] = []
    scheduler = _scheduler(pipeline, clock, reader, sent)
    clock.now = NOW + timedelta(minutes=29)
    assert scheduler.tick().sla_breached == 0  # type: ignore[union-attr]

    clock.now = NOW + timedelta(minutes=31)
    report = scheduler.tick()
    pipeline.drain()

    assert report is not None and (report.sla_breached, report.reassigned, report.escalated) == (1, 1, 1)
    assert reader.asked == [("Lead", [RECORD])]
    newest = pipeline.sink.published[-1]
    assert (newest.record_id, newest.owner_id, newest.outcome.value) == (RECORD, REP_2, "assigned")
    assert newest.source_event_id == f"sla-{pipeline.sink.published[0].routing_id}"
    [escalation] = sent
    assert (escalation.kind, escalation.recipient_id) == ("sla_escalation", LEAD)
    assert escalation.values["owner_id"] == REP_1
    assert escalation.values["action"] == "Reassigned through the router graph."
    states = pipeline.store.sla_timers.states()
    assert sorted(states.values()) == ["breached", "open"]  # the old timer closed, the new owner's runs

    assert scheduler.tick().sla_breached == 0  # type: ignore[union-attr]
    assert len(sent) == 1


def test_a_record_changed_by_its_owner_before_the_deadline_is_left_alone(pipeline: Pipeline) -> None:
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    pipeline.apply(sla_config())
    pipeline.send([lead_event(1)])
    pipeline.drain()
    decided_at = pipeline.sink.published[-1].decided_at
    update = RecordEvent(object_type="Lead", record_id=RECORD, fields={"Status": "Working - Contacted"},
                         change_type=ChangeType.UPDATE, changed_fields=["Status"], changed_by=REP_1,
                         source=Source.CHANGE_EVENT, source_event_id="tx-1:1:" + RECORD,
                         commit_timestamp=decided_at + timedelta(minutes=10),
                         received_at=decided_at + timedelta(minutes=10))
    pipeline.send([update])
    pipeline.drain()

    sent: list[Notification] = []
    reader = RecordingReader({})
    clock.now = decided_at + timedelta(minutes=31)
    report = _scheduler(pipeline, clock, reader, sent).tick()

    assert report is not None and (report.sla_actioned, report.sla_breached) == (1, 0)
    assert reader.asked == [] and sent == []
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}


def test_without_salesforce_a_breach_is_escalated_and_says_it_was_not_reassigned(pipeline: Pipeline) -> None:
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    pipeline.apply(sla_config())
    pipeline.send([lead_event(1)])
    pipeline.drain()

    sent: list[Notification] = []
    clock.now = NOW + timedelta(hours=1)
    report = _scheduler(pipeline, clock, None, sent).tick()

    assert report is not None and (report.sla_breached, report.reassigned) == (1, 0)
    assert sent[0].values["action"] == "Not reassigned: no Salesforce connection to read the record again."


def test_the_end_of_an_absence_sends_held_records_to_a_re_check_at_once(pipeline: Pipeline) -> None:
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    absent = '[{start: "2026-11-23T09:00:00+00:00", end: "2026-11-23T10:02:00+00:00"}]'
    pipeline.apply(f"""
teams:
  - name: Inbound
    members:
      - {{id: "{REP_1}", out_of_office: {absent}}}
default_team: Inbound
""")
    pipeline.send([lead_event(1)])
    pipeline.drain()
    assert pipeline.sink.published[-1].outcome.value == "held"

    assert pipeline.store.holds.lease(pipeline.store.holds.held(), NOW + timedelta(hours=1))  # next look in an hour
    scheduler = _scheduler(pipeline, clock, None, [])
    scheduler.tick()
    clock.now = NOW + timedelta(minutes=1)
    assert scheduler.tick().held_rechecked == 0  # type: ignore[union-attr]
    clock.now = NOW + timedelta(minutes=3)
    report = scheduler.tick()
    pipeline.drain()

    assert report is not None and report.member_changes == 1 and report.held_rechecked == 1
    assert pipeline.store.decisions.owner_counts() == {REP_1: 1}


def test_cap_windows_follow_the_team_default_per_window_and_criteria_caps() -> None:
    config = load_config(f"""
teams:
  - name: Inbound
    member_caps: {{per_month: 100}}
    criteria_caps: [{{name: enterprise, tag: enterprise, per_week: 3}}]
    members:
      - {{id: "{REP_1}", caps: {{per_day: 5}}}}
default_team: Inbound
""")
    first_of_december = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # a Tuesday
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    details = [c.detail for c in member_changes(config, monday - timedelta(minutes=1), monday)]
    assert sorted(details) == ["new day cap window", "new week cap window"]
    details = [c.detail for c in member_changes(config, first_of_december - timedelta(minutes=1), first_of_december)]
    assert sorted(details) == ["new day cap window", "new month cap window"]


@dataclasses.dataclass
class UnreachableReader(RecordingReader):
    """Salesforce answering 503 the first ``failures`` reads."""

    failures: int = 1

    def by_ids(self, object_type: str, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        if self.failures:
            self.failures -= 1
            raise TransientError("Salesforce answered 503")
        return super().by_ids(object_type, record_ids)


def test_a_breach_waits_for_salesforce_and_a_deleted_record_is_escalated_as_not_found(pipeline: Pipeline) -> None:
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    pipeline.apply(sla_config())
    pipeline.send([lead_event(1)])
    pipeline.drain()
    sent: list[Notification] = []
    reader = UnreachableReader({})
    scheduler = _scheduler(pipeline, clock, reader, sent)
    clock.now = NOW + timedelta(hours=1)

    assert scheduler.tick() is None  # Salesforce is away: the round fails and nothing is closed
    assert list(pipeline.store.sla_timers.states().values()) == ["open"] and sent == []

    report = scheduler.tick()
    assert report is not None and (report.sla_breached, report.reassigned) == (1, 0)
    assert sent[0].values["action"] == "Not reassigned: the record was not found in Salesforce (deleted or merged)."
    assert list(pipeline.store.sla_timers.states().values()) == ["breached"]


def test_batch_reassignment_jobs_open_no_sla_timers_and_notify_nobody() -> None:
    def assigned(source: Source) -> AssignmentLog:
        return AssignmentLog(routing_id=f"r-{source.value}", record_id=RECORD, object_type="Lead",
                             outcome=Outcome.ASSIGNED, owner_id=REP_1, team="Inbound", source=source.value,
                             source_event_id="e1", event_at=NOW, decided_at=NOW)

    logs = [assigned(Source.CHANGE_EVENT), assigned(Source.BATCH)]
    config = load_config(sla_config())
    assert [timer.routing_id for timer in timers_for(logs, config)] == ["r-change_event"]
    assert [n.notification_id for n in owner_notifications(logs, ["email"])] == ["r-change_event:email"]
    assert timers_for(logs, config)[0].due_at == NOW + timedelta(minutes=30)


def test_rabbitmqs_dead_letter_queues_are_moved_once_an_interval_and_a_failed_move_is_tried_next_time(
    pipeline: Pipeline
) -> None:
    clock = FrozenClock()
    answers: list[int | Exception] = [2, TransientError("RabbitMQ could not be reached"), 1]
    moves: list[datetime] = []

    def sweep() -> int:
        moves.append(clock.now)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    scheduler = dataclasses.replace(_scheduler(pipeline, clock, None, []), dead_letter_sweep=sweep,
                                    dead_letter_sweep_interval_s=600)
    rounds = []
    for minutes in (0, 5, 10, 15, 20):
        clock.now = NOW + timedelta(minutes=minutes)
        report = scheduler.tick()
        assert report is not None
        rounds.append(report.dead_letters_moved)

    assert moves == [NOW, NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)]
    assert rounds == [2, 0, 0, 0, 1]


BREACHED_FIELD = "Baton_SLA_Breached__c"


def _breach(pipeline: Pipeline, reader: RecordingReader | None) -> tuple[list[Any], str]:
    """A lead assigned under a config writing Lead facts back, its owner written, then its SLA breached; returns
    what was written to Salesforce after the breach and the decision's routing id."""
    clock = FrozenClock()
    _sla_pipeline(pipeline, clock)
    pipeline.apply(sla_config() + "writeback:\n  Lead: default\n")
    pipeline.send([lead_event(1)])
    pipeline.drain()
    decision = pipeline.sink.published[-1].routing_id
    before = len(pipeline.writer.written)
    scheduler = dataclasses.replace(_scheduler(pipeline, clock, reader, []), outbox=pipeline.store.outbox)
    clock.now = NOW + timedelta(minutes=31)
    assert scheduler.tick().sla_breached == 1  # type: ignore[union-attr]
    pipeline.drain()
    return pipeline.writer.written[before:], decision


def test_a_breach_writes_sla_breached_back_with_the_decisions_owner_and_facts(pipeline: Pipeline) -> None:
    written, decision = _breach(pipeline, reader=None)  # no Salesforce reader: the record stays with its owner

    [change] = written
    assert (change.record_id, change.owner_id) == (RECORD, REP_1)
    assert change.fields is not None and change.fields[BREACHED_FIELD] is True
    assert change.fields["Baton_Routing_Id__c"] == decision and change.fields["Baton_Team__c"] == "Inbound"


def test_a_breachs_reassignment_supersedes_its_sla_breached_write(pipeline: Pipeline) -> None:
    reader = RecordingReader({RECORD: {"Id": RECORD, "LastName": "Lead 1", "Company": "Company 1",
                                       "OwnerId": REP_1, "LastModifiedById": "005000000000099AAA"}})
    written, decision = _breach(pipeline, reader)

    [change] = written  # the new decision's row only: the flag's row, older, was superseded before it was sent
    assert change.owner_id == REP_2 and change.fields is not None
    assert change.fields[BREACHED_FIELD] is False and change.fields["Baton_Routing_Id__c"] != decision
    assert pipeline.store.outbox.summary() == {("sent", 1): 2, ("superseded", 0): 1}  # both decisions sent
